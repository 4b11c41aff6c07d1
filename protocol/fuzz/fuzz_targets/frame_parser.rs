//! Arbitrary bytes into the deframer, the checked frame view, the link and the message
//! decoder: none may panic, and every frame that decodes must re-encode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shikaku_protocol::auth::{LinkKeys, PairingKey};
use shikaku_protocol::deframer::Deframer;
use shikaku_protocol::message::Message;
use shikaku_protocol::{Frame, Link, Role, MAX_FRAME};

fuzz_target!(|data: &[u8]| {
    let _ = Frame::new_checked(data);
    if let Some((&t, rest)) = data.split_first() {
        if let Ok(msg) = Message::decode(t, 0, rest) {
            let mut buf = [0u8; MAX_FRAME];
            let n = msg.encode(&mut buf).expect("a decoded message re-encodes");
            assert_eq!(Message::decode(t, 0, &buf[..n]), Ok(msg));
        }
    }

    let keys = LinkKeys::derive(&PairingKey([1; 32]), &[2; 16], &[3; 16]);
    let mut host = Link::new(Role::Host);
    host.secure(&keys);
    let mut reader = Link::new(Role::Reader);
    let mut d: Deframer<MAX_FRAME> = Deframer::new();
    let mut input = data;
    while !input.is_empty() {
        let n = d.push(input);
        input = &input[n..];
        while let Some(r) = d.next_frame() {
            if let Ok(frame) = r {
                // Opening decrypts in place: each end gets its own copy.
                let mut a = frame.bytes().to_vec();
                let mut b = a.clone();
                let _ = host.decode(Frame::new_unchecked(&mut a[..]));
                let _ = reader.decode(Frame::new_unchecked(&mut b[..]));
            }
        }
    }
});
