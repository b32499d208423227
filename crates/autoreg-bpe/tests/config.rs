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

#[test]
fn learning_no_merge_is_an_error_and_too_few_a_warning() {
    autoreg_tokens::testing::keep_logs();
    let code = CodeConfig::default().build(&[]).unwrap();
    // BOS <py> "abab" EOS: the pair "ab" occurs twice, no other pair as often.
    let specials = autoreg_tokens::Modality::specials(&code);
    let doc: Vec<u32> = [specials.bos, 256].into_iter().chain(b"abab".map(u32::from)).chain([specials.eos]).collect();
    let learn = |min_frequency| {
        let config = BpeConfig { vocab_size: 300, min_frequency, split: None };
        autoreg_bpe::Bpe::learn(&config, &code, std::iter::once(doc.as_slice()))
    };
    let err = learn(3).err().unwrap().to_string();
    assert!(err.contains("no merges learned") && err.contains("min_frequency = 3"), "{err}");
    let bpe = learn(2).unwrap();
    assert_eq!(autoreg_tokens::IdModel::vocab_size(&bpe), 261);
    let said = autoreg_tokens::testing::logged("tokenizer.bpe: learned 1 merges of the 40");
    assert_eq!(said.len(), 1, "{said:?}");
}
