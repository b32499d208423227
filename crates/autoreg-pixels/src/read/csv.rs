//! CSV rows of pixel values followed by a label (sklearn's `digits.csv.gz`): each row is
//! one square grey image, `n * n` values then the label.

use crate::error::InputError;

/// One CSV row: raw pixel values (not yet divided by the maximum) and its label.
pub(crate) struct Row {
    /// Side of the square image.
    pub side: u32,
    /// `side * side` values, raster order.
    pub values: Vec<f64>,
    /// The last field, trimmed.
    pub label: String,
}

/// Parses rows of numbers with a trailing label. Blank lines are skipped, and so is a
/// first line holding no number at all (a header).
pub(crate) fn parse(text: &str) -> Result<Vec<Row>, InputError> {
    let mut rows: Vec<Row> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if line.trim().is_empty() || (rows.is_empty() && fields.iter().all(|f| f.parse::<f64>().is_err())) {
            continue;
        }
        let bad = |reason: String| InputError::Csv { line: i + 1, reason };
        let (label, pixels) = fields
            .split_last()
            .filter(|(_, p)| !p.is_empty())
            .ok_or_else(|| bad("a row needs pixel values and a trailing label, separated by commas".into()))?;
        let side = (pixels.len() as f64).sqrt().round() as u32;
        if (side * side) as usize != pixels.len() {
            return Err(bad(format!("{} pixel values do not make a square image", pixels.len())));
        }
        if let Some(first) = rows.first().filter(|r| r.side != side) {
            return Err(bad(format!("{} pixel values, the first row has {}", pixels.len(), first.values.len())));
        }
        let values = pixels
            .iter()
            .enumerate()
            .map(|(column, f)| match f.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
                _ => Err(bad(format!("field {} ({f:?}) is not a pixel value (a number >= 0)", column + 1))),
            })
            .collect::<Result<_, _>>()?;
        rows.push(Row { side, values, label: (*label).to_owned() });
    }
    Ok(rows)
}

/// The largest pixel value in `rows` (0 when there are none).
pub(crate) fn largest(rows: &[Row]) -> f64 {
    rows.iter().flat_map(|r| &r.values).fold(0.0, |a, &b| a.max(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_skips_a_header() {
        let rows = parse("p0,p1,p2,p3,label\n0,1,2,16,7\n\n3,0,0,1,2\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].side, &rows[0].values[..], rows[0].label.as_str()), (2, &[0.0, 1.0, 2.0, 16.0][..], "7"));
        assert_eq!(largest(&rows), 16.0);
    }

    #[test]
    fn names_the_line_of_a_bad_row() {
        let err = |text: &str| parse(text).err().unwrap().to_string();
        assert!(err("0,1,2,3,4\n0,1,x,3,4\n").contains("line 2: field 3 (\"x\")"), "{}", err("0,1,2,3,4\n0,1,x,3,4"));
        assert!(err("0,1,2,3,4\n0,1,2,3,4,5,6,7,8,9\n").contains("line 2: 9 pixel values, the first row has 4"));
        assert!(err("0,1,2,4\n").contains("line 1: 3 pixel values do not make a square"));
        assert!(err("1,-2,3,4,5\n").contains("not a pixel value"));
    }
}
