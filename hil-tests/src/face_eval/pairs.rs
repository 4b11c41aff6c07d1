//! The LFW pairs format: a header line (`N`, or `folds N`), then one pair per line, fields
//! separated by tabs or spaces:
//!
//! ```text
//! name   i   j          same person: ROOT/name/name_000i.EXT and ROOT/name/name_000j.EXT
//! name1  i   name2  j   different people
//! ```
//!
//! Image numbers are written with four digits in the file names; the extension is whatever
//! exists (`jpg`, `jpeg` or `png`).

use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub a: ImageId,
    pub b: ImageId,
    /// Same person (genuine) or not (impostor).
    pub genuine: bool,
    /// The line in the pairs file, for reports.
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageId {
    pub name: String,
    pub number: u32,
}

impl ImageId {
    /// The file under `root`, trying the extensions LFW-style sets use.
    pub fn path(&self, root: &Path) -> Result<PathBuf, String> {
        let stem = format!("{}_{:04}", self.name, self.number);
        for ext in ["jpg", "jpeg", "png"] {
            let p = root.join(&self.name).join(format!("{stem}.{ext}"));
            if p.is_file() {
                return Ok(p);
            }
        }
        Err(format!("{}/{}/{stem}.{{jpg,jpeg,png}}: no such image", root.display(), self.name))
    }
}

impl std::fmt::Display for ImageId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{:04}", self.name, self.number)
    }
}

/// Parses a pairs file; every malformed line is an error naming the line.
pub fn parse(text: &str) -> Result<Vec<Pair>, String> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("an empty pairs file")?;
    let head: Vec<&str> = header.split_whitespace().collect();
    let declared: usize = match head.as_slice() {
        [n] => n.parse().map_err(|_| format!("line 1: header {header:?} is not a count"))?,
        [folds, n] => {
            let f: usize =
                folds.parse().map_err(|_| format!("line 1: header {header:?} is not `folds count`"))?;
            let n: usize =
                n.parse().map_err(|_| format!("line 1: header {header:?} is not `folds count`"))?;
            // LFW's own file: `folds n` means n genuine and n impostor pairs per fold.
            f * n * 2
        }
        _ => return Err(format!("line 1: header {header:?} is not `count` or `folds count`")),
    };
    let num = |s: &str, line: usize| -> Result<u32, String> {
        s.parse().map_err(|_| format!("line {line}: {s:?} is not an image number"))
    };
    let mut pairs = Vec::new();
    for (i, l) in lines {
        let line = i + 1;
        let f: Vec<&str> = l.split_whitespace().collect();
        let pair = match f.as_slice() {
            [name, i, j] => Pair {
                a: ImageId { name: name.to_string(), number: num(i, line)? },
                b: ImageId { name: name.to_string(), number: num(j, line)? },
                genuine: true,
                line,
            },
            [n1, i, n2, j] => Pair {
                a: ImageId { name: n1.to_string(), number: num(i, line)? },
                b: ImageId { name: n2.to_string(), number: num(j, line)? },
                genuine: n1 == n2,
                line,
            },
            _ => return Err(format!("line {line}: {l:?} has {} fields, a pair has 3 or 4", f.len())),
        };
        pairs.push(pair);
    }
    if pairs.len() != declared {
        return Err(format!("the header declares {declared} pairs, the file has {}", pairs.len()));
    }
    Ok(pairs)
}

/// Writes pairs in the same format (header `N`), genuine ones as three fields.
pub fn write(pairs: &[Pair]) -> String {
    let mut s = format!("{}\n", pairs.len());
    for p in pairs {
        if p.genuine && p.a.name == p.b.name {
            s += &format!("{}\t{}\t{}\n", p.a.name, p.a.number, p.b.number);
        } else {
            s += &format!("{}\t{}\t{}\t{}\n", p.a.name, p.a.number, p.b.name, p.b.number);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfw_header_and_both_pair_kinds() {
        let p = parse("1\t1\nAaron_Peirsol\t1\t2\nAJ_Cook\t1\tMarsha_Thomason\t1\n").unwrap();
        assert_eq!(p.len(), 2);
        assert!(p[0].genuine);
        assert_eq!(p[0].a.to_string(), "Aaron_Peirsol_0001");
        assert!(!p[1].genuine);
        assert_eq!(p[1].b.to_string(), "Marsha_Thomason_0001");
        assert_eq!(
            parse(&write(&p)).unwrap().iter().map(|x| (&x.a, &x.b, x.genuine)).collect::<Vec<_>>(),
            p.iter().map(|x| (&x.a, &x.b, x.genuine)).collect::<Vec<_>>()
        );
    }

    #[test]
    fn malformed_files_name_the_line() {
        assert_eq!(parse("").unwrap_err(), "an empty pairs file");
        assert!(parse("2\na\t1\t2\n").unwrap_err().contains("declares 2"));
        assert!(parse("1\na\tx\t2\n").unwrap_err().starts_with("line 2:"));
        assert!(parse("1\na\t1\n").unwrap_err().contains("has 2 fields"));
        assert!(parse("x y z\n").unwrap_err().starts_with("line 1:"));
    }
}
