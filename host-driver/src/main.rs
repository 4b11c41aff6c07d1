fn main() {
    println!("shikaku {}", env!("CARGO_PKG_VERSION"));
}
