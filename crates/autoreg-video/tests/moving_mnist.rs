//! Moving MNIST from the real MNIST test set.

use autoreg_video::moving_mnist::{Digits, MovingMnist, load_digits};

#[test]
fn real_digits_make_clips_of_bouncing_digits() {
    let path = autoreg_data::find_data("mnist-test/t10k-images-idx3-ubyte.gz").unwrap_or_else(|e| panic!("{e}"));
    let Digits { images: digits, labels } = load_digits(&path, true).unwrap();
    assert_eq!((digits.len(), labels.len()), (10_000, 10_000));
    // The first test digits of MNIST are a 7, a 2 and a 1.
    assert_eq!(labels[..3], ["7", "2", "1"]);
    assert!(load_digits(&path, false).unwrap().labels.is_empty());
    assert!(digits.iter().all(|d| d.len() == 784));
    // MNIST digits are white on black, with some ink in every one.
    let least = digits.iter().map(|d| d.iter().filter(|&&v| v > 128).count()).min().unwrap();
    assert!(least > 0 && digits.iter().all(|d| d[0] == 0), "{least}");

    let set = MovingMnist::default();
    assert_eq!((set.frames, set.size, set.digits), (20, 64, 2));
    let clip = set.clip(&digits, 0, 0);
    assert_eq!(clip.digits.len(), 2);
    let clip = clip.frames;
    assert_eq!(clip.len(), 20);
    let ink = |f: &autoreg_pixels::image::GrayImage| f.pixels().map(|p| u64::from(p[0])).sum::<u64>();
    let centroid = |f: &autoreg_pixels::image::GrayImage| {
        let total = ink(f) as f64;
        let (sx, sy) = f.enumerate_pixels().fold((0.0, 0.0), |(sx, sy), (x, y, p)| {
            (sx + f64::from(x) * f64::from(p[0]), sy + f64::from(y) * f64::from(p[0]))
        });
        (sx / total, sy / total)
    };
    for w in clip.windows(2) {
        assert_ne!(w[0], w[1], "the digits move every frame");
        let ((x0, y0), (x1, y1)) = (centroid(&w[0]), centroid(&w[1]));
        assert!((x1 - x0).hypot(y1 - y0) <= 6.5, "the ink moves at most the speed");
    }
    // Two digits, summed and clipped: at most twice one digit's ink.
    let most = digits.iter().map(|d| d.iter().map(|&v| u64::from(v)).sum::<u64>()).max().unwrap();
    assert!(clip.iter().all(|f| ink(f) > 0 && ink(f) <= 2 * most));
}

/// Progress, recorded.
#[derive(Default)]
struct Heard(std::sync::Mutex<Vec<String>>);

impl autoreg_data::Progress for Heard {
    fn begin(&self, what: &str, total: u64) {
        self.0.lock().unwrap().push(format!("{what} {total}"));
    }

    fn advance(&self, n: u64) {
        self.0.lock().unwrap().push(format!("+{n}"));
    }

    fn end(&self) {
        self.0.lock().unwrap().push("end".to_owned());
    }
}

#[test]
fn the_command_writes_clips_into_an_empty_folder_and_reports_its_progress() {
    use autoreg_data::Silent;
    use autoreg_video::dataset::{MovingMnistArgs, write_moving_mnist};
    let mnist = autoreg_data::find_data("mnist-test/t10k-images-idx3-ubyte.gz").unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mm");
    let args = MovingMnistArgs {
        out: out.clone(),
        clips: 3,
        frames: 2,
        size: 28,
        digits: 1,
        seed: 7,
        mnist: Some(mnist),
        labelled: false,
    };
    let heard = Heard::default();
    let set = write_moving_mnist(&args, &heard).unwrap();
    assert_eq!(*heard.0.lock().unwrap(), ["moving mnist clips 3", "+1", "+1", "+1", "end"]);
    assert_eq!(set.clips, (0..3).map(|i| out.join(format!("clip-{i:05}.gif"))).collect::<Vec<_>>());
    assert!(set.to_string().starts_with("wrote 3 clips of 2 frames of 28x28 to "), "{set}");
    let err = write_moving_mnist(&args, &Silent).unwrap_err().to_string();
    assert!(err.contains("the folder is not empty") && err.contains("never mix"), "{err}");
    let none = MovingMnistArgs { clips: 0, out: dir.path().join("none"), ..args.clone() };
    let err = write_moving_mnist(&none, &Silent).unwrap_err().to_string();
    assert!(err.starts_with("--clips 0: must be at least 1"), "{err}");
    // Labelled: each clip is named by its digit, which is the digit drawn in it.
    let labelled = MovingMnistArgs { out: dir.path().join("labelled"), labelled: true, ..args };
    let set = write_moving_mnist(&labelled, &Silent).unwrap();
    let names: Vec<String> = set.clips.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.iter().enumerate().all(|(i, n)| n.len() == 11 && n.ends_with(&format!("_{i:05}.gif"))), "{names:?}");
    assert!(names.iter().all(|n| n.as_bytes()[0].is_ascii_digit()), "{names:?}");
}
