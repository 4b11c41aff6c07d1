//! Register addresses, bits, SPI modes and direct command codes of the ST25R3916, from the
//! public datasheet (DS12484). Only what the driver uses is named here.

/// SPI mode byte: register write (`00` + 6-bit address; the address auto-increments).
pub const SPI_WRITE: u8 = 0x00;
/// SPI mode byte: register read (`01` + 6-bit address; the address auto-increments).
pub const SPI_READ: u8 = 0x40;
/// SPI mode byte: FIFO load.
pub const SPI_FIFO_LOAD: u8 = 0x80;
/// SPI mode byte: FIFO read.
pub const SPI_FIFO_READ: u8 = 0x9F;
/// Mask of the 6-bit register address.
pub const ADDR_MASK: u8 = 0x3F;

/// FIFO depth in bytes.
pub const FIFO_DEPTH: usize = 512;
/// Transmit water level: while sending, `I_wl` fires when the FIFO has drained to this many
/// bytes and more of the frame is still to come.
pub const TX_WATER_LEVEL: usize = 200;
/// Receive water level: while receiving, `I_wl` fires when the FIFO has filled to this many
/// bytes.
pub const RX_WATER_LEVEL: usize = 300;

// Register space A.
pub const IO_CONF1: u8 = 0x00;
pub const IO_CONF2: u8 = 0x01;
pub const OP_CONTROL: u8 = 0x02;
pub const MODE: u8 = 0x03;
pub const BIT_RATE: u8 = 0x04;
pub const ISO14443A_NFC: u8 = 0x05;
pub const ISO14443B_1: u8 = 0x06;
pub const ISO14443B_2: u8 = 0x07;
pub const AUX: u8 = 0x0A;
pub const MASK_RX_TIMER: u8 = 0x0F;
pub const NO_RESPONSE_TIMER1: u8 = 0x10;
pub const NO_RESPONSE_TIMER2: u8 = 0x11;
pub const TIMER_EMV_CONTROL: u8 = 0x12;
pub const IRQ_MASK_MAIN: u8 = 0x16;
pub const IRQ_MASK_TIMER_NFC: u8 = 0x17;
pub const IRQ_MASK_ERROR_WUP: u8 = 0x18;
pub const IRQ_MASK_TARGET: u8 = 0x19;
pub const IRQ_MAIN: u8 = 0x1A;
pub const IRQ_TIMER_NFC: u8 = 0x1B;
pub const IRQ_ERROR_WUP: u8 = 0x1C;
pub const IRQ_TARGET: u8 = 0x1D;
pub const FIFO_STATUS1: u8 = 0x1E;
pub const FIFO_STATUS2: u8 = 0x1F;
pub const COLLISION_STATUS: u8 = 0x20;
pub const NUM_TX_BYTES1: u8 = 0x22;
pub const NUM_TX_BYTES2: u8 = 0x23;
pub const TX_DRIVER: u8 = 0x28;
pub const AUX_DISPLAY: u8 = 0x31;
pub const IC_IDENTITY: u8 = 0x3F;

// Operation control.
pub const OP_EN: u8 = 1 << 7;
pub const OP_RX_EN: u8 = 1 << 6;
pub const OP_TX_EN: u8 = 1 << 3;

// Mode definition: initiator operating modes (om, bits 6..3) and AM modulation (tr_am).
pub const MODE_OM_ISO14443A: u8 = 0x1 << 3;
pub const MODE_OM_ISO14443B: u8 = 0x2 << 3;
pub const MODE_OM_MASK: u8 = 0xF << 3;
pub const MODE_TARG: u8 = 1 << 7;
pub const MODE_TR_AM: u8 = 1 << 2;

// ISO 14443A settings.
pub const ISO14443A_ANTCL: u8 = 1 << 0;

// Auxiliary definition.
pub const AUX_NO_CRC_RX: u8 = 1 << 7;

// Timer and EMV control.
pub const TIMER_NRT_STEP_4096: u8 = 1 << 0;

// FIFO status 2.
pub const FIFO2_B_MASK: u8 = 0x3 << 6;
pub const FIFO2_UNF: u8 = 1 << 5;
pub const FIFO2_OVR: u8 = 1 << 4;
pub const FIFO2_LB_MASK: u8 = 0x7 << 1;
pub const FIFO2_NP_LB: u8 = 1 << 0;

// Collision display: c_byte (bits 7..4), c_bit (bits 3..1).
pub const COLL_BYTE_SHIFT: u8 = 4;
pub const COLL_BIT_SHIFT: u8 = 1;

// Auxiliary display.
pub const AUX_DISPLAY_OSC_OK: u8 = 1 << 4;

// IC identity: ic_type in bits 7..3.
pub const IC_TYPE_MASK: u8 = 0x1F << 3;
pub const IC_TYPE_ST25R3916: u8 = 0x05 << 3;

// TX driver: AM modulation depth (am_mod, bits 7..4); 0x0 = 5 %, 0xF = 40 %; ~10 % for Type B.
pub const TX_DRIVER_AM_MOD_10: u8 = 0x3 << 4;

// Interrupts, as one 32-bit word: main (bits 0..7), timer/NFC (8..15), error/wake-up
// (16..23), passive target (24..31) -- the order of the four interrupt registers.
pub const I_RX_REST: u32 = 1 << 1;
pub const I_COL: u32 = 1 << 2;
pub const I_TXE: u32 = 1 << 3;
pub const I_RXE: u32 = 1 << 4;
pub const I_RXS: u32 = 1 << 5;
pub const I_WL: u32 = 1 << 6;
pub const I_OSC: u32 = 1 << 7;
pub const I_NRE: u32 = 1 << (8 + 6);
pub const I_DCT: u32 = 1 << (8 + 7);
pub const I_ERR1: u32 = 1 << (16 + 4);
pub const I_ERR2: u32 = 1 << (16 + 5);
pub const I_PAR: u32 = 1 << (16 + 6);
pub const I_CRC: u32 = 1 << (16 + 7);

/// Direct commands (`11` + 6-bit code).
pub mod cmd {
    pub const SET_DEFAULT: u8 = 0xC1;
    pub const STOP: u8 = 0xC2;
    pub const TRANSMIT_WITH_CRC: u8 = 0xC4;
    pub const TRANSMIT_WITHOUT_CRC: u8 = 0xC5;
    pub const TRANSMIT_REQA: u8 = 0xC6;
    pub const TRANSMIT_WUPA: u8 = 0xC7;
    pub const MASK_RECEIVE_DATA: u8 = 0xD0;
    pub const UNMASK_RECEIVE_DATA: u8 = 0xD1;
    pub const ADJUST_REGULATORS: u8 = 0xD6;
    pub const CLEAR_FIFO: u8 = 0xDB;
    pub const START_NO_RESPONSE_TIMER: u8 = 0xE3;
    pub const STOP_NRT: u8 = 0xE8;
}
