//! Labels from file names: templates such as `{label}_{_}.wav`.

use regex::{Regex, RegexBuilder};

/// A compiled file-name template: `{label}` captures the label, `{_}` matches any
/// non-empty text, `{#}` a run of digits, the rest is literal; matched against the whole
/// file name, ignoring case.
#[derive(Clone, Debug)]
pub struct LabelPattern {
    regex: Regex,
}

impl LabelPattern {
    /// Compiles `template`, which must hold `{label}` exactly once and no other `{...}`
    /// than `{_}` and `{#}`.
    pub fn new(template: &str) -> Result<Self, String> {
        let mut source = String::from("^");
        let mut labels = 0;
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            source.push_str(&regex::escape(&rest[..open]));
            let close =
                rest[open..].find('}').map(|c| open + c).ok_or_else(|| format!("unclosed `{{` in {template:?}"))?;
            match &rest[open + 1..close] {
                "label" => {
                    labels += 1;
                    source.push_str("(?P<label>.+?)");
                }
                "_" => source.push_str(".+?"),
                "#" => source.push_str("[0-9]+"),
                other => {
                    return Err(format!(
                        "unknown placeholder `{{{other}}}` in {template:?}: use {{label}}, {{_}} or {{#}}"
                    ));
                }
            }
            rest = &rest[close + 1..];
        }
        source.push_str(&regex::escape(rest));
        source.push('$');
        if labels != 1 {
            return Err(format!("{template:?} must hold `{{label}}` exactly once, not {labels} times"));
        }
        let regex = RegexBuilder::new(&source).case_insensitive(true).build().map_err(|e| e.to_string())?;
        Ok(Self { regex })
    }

    /// The label in `file_name`, or `None` when the name does not match.
    pub fn label<'a>(&self, file_name: &'a str) -> Option<&'a str> {
        self.regex.captures(file_name).and_then(|c| c.name("label")).map(|m| m.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsdd_names_give_the_digit() {
        for template in ["{label}_{_}.wav", "{label}_{_}_{_}.wav"] {
            let p = LabelPattern::new(template).unwrap();
            assert_eq!(p.label("7_jackson_32.wav"), Some("7"), "{template}");
            assert_eq!(p.label("0_george_0.WAV"), Some("0"), "{template}");
            assert_eq!(p.label("7jackson.wav"), None, "{template}");
            assert_eq!(p.label("7_jackson_32.wav.bak"), None, "{template}");
        }
        let speaker = LabelPattern::new("{_}_{label}_{_}.wav").unwrap();
        assert_eq!(speaker.label("7_jackson_32.wav"), Some("jackson"));
        // Nottingham's names: a collection, then the tune's number.
        let collection = LabelPattern::new("{label}{#}.mid").unwrap();
        assert_eq!(collection.label("reelsa-c12.mid"), Some("reelsa-c"));
        assert_eq!(collection.label("jigs.mid"), None);
    }

    #[test]
    fn literal_text_is_not_a_regex() {
        let p = LabelPattern::new("a.b-{label}.wav").unwrap();
        assert_eq!(p.label("a.b-dog.wav"), Some("dog"));
        assert_eq!(p.label("axb-dog.wav"), None);
    }

    #[test]
    fn bad_templates_are_rejected_with_the_reason() {
        assert!(LabelPattern::new("{_}.wav").unwrap_err().contains("exactly once"));
        assert!(LabelPattern::new("{label}{label}").unwrap_err().contains("not 2 times"));
        assert!(LabelPattern::new("{digit}_{_}.wav").unwrap_err().contains("unknown placeholder `{digit}`"));
        assert!(LabelPattern::new("{label").unwrap_err().contains("unclosed"));
    }
}
