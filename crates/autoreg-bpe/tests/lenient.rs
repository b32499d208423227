//! Any id sequence decodes, for every modality, with and without BPE: ids outside the
//! vocabulary and ids that break a modality's grammar are repaired and counted, never a
//! panic or an error.

use autoreg_audio::AudioConfig;
use autoreg_bpe::{Bpe, BpeConfig};
use autoreg_code::CodeConfig;
use autoreg_midi::MidiConfig;
use autoreg_pixels::PixelsConfig;
use autoreg_text::{Level, TextConfig};
use autoreg_tokens::{Identity, Modality, ModalityBuilder, Pipeline};
use proptest::prelude::*;

/// One modality of each kind, the pixels fitted on the carried digits.
fn modalities() -> Vec<Box<dyn Modality>> {
    let digits = autoreg_data::find_data("digits").unwrap();
    let pixels = PixelsConfig { conditional: true, ..PixelsConfig::default() };
    let files = autoreg_data::list_files(&digits, &pixels.extensions()).unwrap();
    vec![
        Box::new(TextConfig { level: Level::Byte }.build(&[]).unwrap()),
        Box::new(autoreg_text::TextTokenizer::char("\n abcé世".chars().collect()).unwrap()),
        Box::new(CodeConfig::default().build(&[]).unwrap()),
        Box::new(MidiConfig::default().build(&[]).unwrap()),
        Box::new(pixels.build(&files).unwrap()),
        Box::new(AudioConfig { bits: 8, ..AudioConfig::default() }.build(&[]).unwrap()),
    ]
}

/// Merges learned over documents of repeating symbols, so that there are some.
fn learned(base: &dyn Modality) -> Bpe {
    let specials = base.specials();
    let symbols = base.merge_rule().symbols;
    let docs: Vec<Vec<u32>> = (0..40u32)
        .map(|d| {
            let body = (0..200u32).map(|i| (i * 7 + d) % 5 % symbols);
            std::iter::once(specials.bos).chain(body).chain([specials.eos]).collect()
        })
        .collect();
    let config = BpeConfig { vocab_size: base.vocab_size() + 12, min_frequency: 1, split: None };
    Bpe::learn(&config, base, docs.iter().map(Vec::as_slice)).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_ids_decode_for_every_modality_with_and_without_bpe(
        seed in any::<u64>(),
        len in 0usize..700,
    ) {
        thread_local! {
            static CASES: Vec<(Box<dyn Modality>, Bpe)> =
                modalities().into_iter().map(|m| { let b = learned(m.as_ref()); (m, b) }).collect();
        }
        CASES.with(|cases| {
            for (base, bpe) in cases {
                let identity = Identity { vocab_size: base.vocab_size() };
                for pipeline in [Pipeline::new(base.as_ref(), &identity), Pipeline::new(base.as_ref(), bpe)] {
                    // Ids up to 20 past the vocabulary, from a small generator.
                    let span = pipeline.vocab_size() as u64 + 20;
                    let mut x = seed | 1;
                    let ids: Vec<u32> = (0..len)
                        .map(|_| {
                            x ^= x << 13;
                            x ^= x >> 7;
                            x ^= x << 17;
                            (x % span) as u32
                        })
                        .collect();
                    let out_of_range = ids.iter().filter(|&&id| id as usize >= pipeline.vocab_size()).count();
                    let decoded = pipeline.decode(&ids);
                    prop_assert!(decoded.is_ok(), "{}: {:?}", base.kind(), decoded.err());
                    let decoded = decoded.unwrap();
                    prop_assert!(decoded.repairs >= out_of_range, "{}: {} repairs", base.kind(), decoded.repairs);
                }
            }
            Ok(())
        })?;
    }
}
