// shikaku-face-bench: time per embedding of our face engine, for scripts/face-parity.sh to
// set beside dlib's on the same machine in the same run.
//
//   shikaku-face-bench WEIGHTS.shfr CHIP.rgb ITERATIONS
//     → one line: "<kind> median_ms min_ms peak_rss_kib" (the peak resident set of this
//       process, which holds the whole weight file in RAM; on the reader the weights stay in
//       flash and the RAM is the arena)

use shikaku_firmware::face::model::{Model, ARENA_F32};
use std::process::ExitCode;
use std::time::Instant;

fn run() -> Result<(), String> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        return Err("usage: shikaku-face-bench WEIGHTS.shfr CHIP.rgb ITERATIONS".into());
    }
    let blob = std::fs::read(&a[1]).map_err(|e| format!("{}: {e}", a[1]))?;
    let chip = std::fs::read(&a[2]).map_err(|e| format!("{}: {e}", a[2]))?;
    let n: usize = a[3].parse().map_err(|_| "ITERATIONS must be a number")?;
    let model = Model::parse(&blob).map_err(|e| format!("{}: {e:?}", a[1]))?;
    let mut arena = vec![0f32; ARENA_F32];
    model.embed(&chip, &mut arena).map_err(|e| format!("{e:?}"))?; // warm-up
    let mut ms: Vec<f64> = (0..n.max(1))
        .map(|_| {
            let t = Instant::now();
            let d = model.embed(&chip, &mut arena);
            std::hint::black_box(d).ok();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    // Linux: VmHWM in /proc/self/status; 0 where unavailable
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0u64);
    println!("{:?} {:.3} {:.3} {rss}", model.kind(), ms[ms.len() / 2], ms[0]);
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shikaku-face-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
