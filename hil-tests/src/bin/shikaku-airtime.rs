//! Time on air of the reader's card flows against the physical lower bound of their bytes.
//!
//! Each flow runs through the firmware's real stack (applet clients → ISO 7816-4 →
//! ISO 14443-4 → Type B activation) over the simulated frontend and the virtual card. We count
//! APDUs, APDU bytes (command + response), and what went on air (frames, bytes incl. PCB, CID
//! and CRC). Model, stated: a Type B frame costs SOF + EOF = 22 etu plus 10 etu per byte (start,
//! 8 data bits, stop; EGT 0); every frame is followed by the minimum turnaround TR0 + TR1 =
//! 144/fs (≈170 µs); the card's processing time is not modelled (0), so both columns are
//! lower bounds of a real exchange. The "bound" column is the APDU bytes alone at 8 bits per
//! byte with no framing at all: what no protocol can beat. Activation (REQB/ATTRIB) is
//! included in "on air".

use shikaku_card::io::SIGNATURE_LEN;
use shikaku_card::jpki::{Jpki, MAX_CERT_LEN};
use shikaku_card::secret::CollationB;
use shikaku_card::surface_ap::SurfaceAp;
use shikaku_card::testing::Counting;
use shikaku_card::{CardIo, Pin4};
use shikaku_firmware::nfc::iso_dep::{IsoDep, IsoDepConfig};
use shikaku_firmware::nfc::type_b::{self, ActivationConfig};
use shikaku_hil::sim_frontend::{FaultConfig, SimCardConfig, SimFrontend};
use shikaku_hil::vcard::card::VirtualCard;
use shikaku_hil::vcard::persona::{self, Date};
use shikaku_hil::vcard::{self, AtrChoice};

const FC: f64 = 13.56e6;
const RATES: [u32; 4] = [106, 212, 424, 848];

struct Measured {
    flow: &'static str,
    apdus: u64,
    apdu_bytes: u64,
    frames: u64,
    air_bytes: u64,
}

fn run(
    flow: &'static str,
    persona_id: &str,
    f: impl FnOnce(&mut CardIo<'_, Counting<IsoDep<SimFrontend<VirtualCard>>>>),
) -> Measured {
    let p = persona::find(persona_id).expect("persona");
    let (card, _) = vcard::build_at(&p, Date::today(), &AtrChoice::Contactless).expect("card");
    let mut sim = SimFrontend::with_config(card, SimCardConfig::default(), FaultConfig::default());
    let act = type_b::activate(&mut sim, &ActivationConfig { cid: Some(1), ..ActivationConfig::default() })
        .expect("activation");
    let link = IsoDep::with_config(sim, act.params, IsoDepConfig::default());
    let mut counting = Counting::new(link);
    {
        let mut io = CardIo::new(&mut counting);
        f(&mut io);
    }
    let c = *counting.inner.frontend().counters();
    Measured {
        flow,
        apdus: counting.apdus,
        apdu_bytes: counting.bytes,
        frames: c.pcd_frames + c.picc_frames,
        air_bytes: c.pcd_bytes + c.picc_bytes,
    }
}

fn main() {
    let flows = [
        run("read auth cert + PIN + sign", "yamada", |io| {
            let mut jpki = Jpki::select(io).expect("JPKI");
            let mut buf = [0u8; MAX_CERT_LEN];
            jpki.read_auth_cert(&mut buf).expect("cert");
            let pin = Pin4::from_ascii(b"1234").expect("pin");
            jpki.verify_auth_pin(&pin, None).expect("verify");
            let mut sig = [0u8; SIGNATURE_LEN];
            jpki.sign_with_auth_key(b"challenge", &mut sig).expect("sign");
        }),
        run("open surface AP + read face record", "fixture", |io| {
            let mut ap = SurfaceAp::select(io).expect("surface AP");
            let code = CollationB::from_ascii(b"55021720352285").expect("照合番号B");
            ap.verify_collation_b(&code, None).expect("open");
            let mut buf = [0u8; 4096];
            let face = ap.read_card_face(&mut buf).expect("face record");
            assert_eq!(face.photo_jp2.len(), 1854, "the fixture photo");
        }),
    ];
    println!(
        "card flows over ISO 14443 Type B (FSC 256, CID on), time on air vs the bound of the APDU bytes"
    );
    println!(
        "{:<36} {:>5} {:>10} {:>7} {:>10} | {}",
        "flow",
        "APDUs",
        "APDU B",
        "frames",
        "on air B",
        RATES.map(|r| format!("{r:>4} kbit/s: air ms / bound ms = ratio")).join(" | ")
    );
    for m in &flows {
        let cols: Vec<String> = RATES
            .iter()
            .map(|&r| {
                let etu = 128.0 / (r as f64 / 106.0) / FC;
                let air = (m.frames as f64 * 22.0 + m.air_bytes as f64 * 10.0) * etu
                    + m.frames as f64 * 144.0 * 16.0 / FC;
                let bound = m.apdu_bytes as f64 * 8.0 * etu;
                format!("{:>6.1} / {:>6.1} = {:>4.2}", air * 1e3, bound * 1e3, air / bound)
            })
            .collect();
        println!(
            "{:<36} {:>5} {:>10} {:>7} {:>10} | {}",
            m.flow,
            m.apdus,
            m.apdu_bytes,
            m.frames,
            m.air_bytes,
            cols.join(" | ")
        );
    }
}
