//! The scenario fuzz targets' harnesses, kept in a library so that their seeds can be checked
//! to reach the deep paths (`cargo test` in this directory) and written out for the fuzzer.

pub mod common;
pub mod pairing;
pub mod sealed_link;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_link_seeds_reach_secured_delivery() {
        for (name, s) in sealed_link::seeds() {
            let r = sealed_link::run(&s);
            eprintln!("sealed_link/{name}: {r:?}");
            assert!(r.results_handed_up > 0 && r.acks_taken > 0, "{name}: {r:?}");
        }
        let r = sealed_link::run(&sealed_link::seeds()[1].1);
        assert!(r.host_messages_taken > 0, "{r:?}");
        let r = sealed_link::run(&sealed_link::seeds()[2].1);
        assert!(r.connections >= 2 && r.attacker_frames > 0, "{r:?}");
    }

    #[test]
    fn pairing_seeds_complete_pairings() {
        let seeds = pairing::seeds();
        for (name, s) in &seeds {
            let r = pairing::run(s);
            eprintln!("pairing/{name}: {r:?}");
        }
        let r = pairing::run(&seeds[0].1);
        assert!(r.accepted == 1 && r.host_paired == 1, "{r:?}");
        let r = pairing::run(&seeds[1].1);
        assert!(r.accepted == 1 && r.host_paired == 1, "{r:?}");
        let r = pairing::run(&seeds[2].1);
        assert_eq!(r.exchanges_started, u32::from(shikaku_protocol::endpoint::reader::PAIRING_ATTEMPTS));
        let r = pairing::run(&seeds[3].1);
        assert!(r.attacker_key_accepted == 1 && r.host_paired == 0, "{r:?}");
    }

    /// `SHIKAKU_WRITE_SEEDS=1 cargo test` writes the seeds into `seeds/<target>/`.
    #[test]
    fn write_seeds() {
        if std::env::var_os("SHIKAKU_WRITE_SEEDS").is_none() {
            return;
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
        for (target, seeds) in [("sealed_link", sealed_link::seeds()), ("pairing", pairing::seeds())] {
            std::fs::create_dir_all(dir.join(target)).unwrap();
            for (name, s) in seeds {
                std::fs::write(dir.join(target).join(name), s).unwrap();
            }
        }
    }
}
