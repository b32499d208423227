//! `[tokenizer.bpe]` options that cannot work are refused before any data is read,
//! naming the key.

use autoreg_bpe::BpeConfig;
use autoreg_code::CodeConfig;
use autoreg_midi::MidiConfig;
use autoreg_tokens::{ModalityBuilder, Split};

#[test]
fn impossible_options_are_refused_naming_the_key() {
    let code = CodeConfig::default().build(&[]).unwrap();
    let midi = MidiConfig::default().build(&[]).unwrap();
    let bpe = |vocab_size, split| BpeConfig { vocab_size, min_frequency: 2, split };
    let err = bpe(100, None).check(&code).unwrap_err().to_string();
    assert!(err.contains("tokenizer.bpe.vocab_size = 100 must be more than the 260 base ids"), "{err}");
    let err = bpe(9000, Some(Split::Words)).check(&midi).unwrap_err().to_string();
    assert!(err.contains("split = \"words\" needs a modality whose symbols are bytes, not midi"), "{err}");
    let err = bpe(900, Some(Split::Before("Bar".into()))).check(&code).unwrap_err().to_string();
    assert!(err.contains("split = \"Bar\": the code vocabulary has no token of that name"), "{err}");
    bpe(9000, Some(Split::Before("Bar".into()))).check(&midi).unwrap();
    bpe(300, None).check(&code).unwrap();
}
