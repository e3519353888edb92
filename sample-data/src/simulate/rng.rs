//! The simulator's own pseudo-random numbers: xoshiro256** seeded through SplitMix64.
//!
//! Owned here rather than taken from `rand` so that a dependency upgrade can never change
//! the events a seed produces: the output of `ccpulse simulate --seed 7` is part of what
//! tests, fixtures and bug reports rely on.

/// One step of SplitMix64: a good 64-bit mixer, used for seeding and for stateless hashes.
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A stateless hash of a few words, for values that must not depend on draw order
/// (a queue's volume noise on a given day, the run tag in ids).
pub(crate) fn mix(words: &[u64]) -> u64 {
    let mut state = 0x5EED_CC90_15E0_0001;
    let mut out = 0;
    for &word in words {
        state ^= word;
        out = splitmix64(&mut state);
    }
    out
}

/// xoshiro256**: fast, small state, excellent statistical quality for simulation.
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose whole stream is a function of `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 53 bits of precision.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`: safe to take the logarithm of.
    fn unit_open(&mut self) -> f64 {
        1.0 - self.unit()
    }

    /// `true` with probability `p`.
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform integer in `[lo, hi]` (inclusive); `lo` when the range is empty.
    pub(crate) fn range_i64(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        let span = (hi - lo) as u64 + 1;
        // Lemire's multiply-shift; the tiny bias for huge spans is irrelevant here.
        lo + ((u128::from(self.next_u64()) * u128::from(span)) >> 64) as i64
    }

    /// Uniform index in `[0, n)`; `n` must be positive.
    pub(crate) fn index(&mut self, n: usize) -> usize {
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    /// Exponential with the given mean.
    pub(crate) fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.unit_open().ln()
    }

    /// Standard normal (Box–Muller; one of the pair is discarded to keep the state simple).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = self.unit_open();
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Log-normal given its median and the sigma of the underlying normal.
    pub(crate) fn log_normal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// An index drawn with the given relative weights (all non-negative, not all zero).
    pub(crate) fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_a_pure_function_of_the_seed() {
        let a: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..8).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(7);
            (0..8).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        let mut c = Rng::new(8);
        assert_ne!(a[0], c.next_u64());
    }

    #[test]
    fn known_first_value_pins_the_algorithm() {
        // Changing the generator changes every simulated run: this must be deliberate.
        let mut r = Rng::new(0);
        assert_eq!(r.next_u64(), 0x99EC_5F36_CB75_F2B4);
    }

    #[test]
    fn distributions_have_the_right_shape() {
        let mut r = Rng::new(42);
        let n = 200_000;
        let mean_unit = (0..n).map(|_| r.unit()).sum::<f64>() / n as f64;
        assert!((mean_unit - 0.5).abs() < 0.01, "{mean_unit}");
        let mean_exp = (0..n).map(|_| r.exp(30.0)).sum::<f64>() / n as f64;
        assert!((mean_exp - 30.0).abs() < 0.5, "{mean_exp}");
        let mut logn: Vec<f64> = (0..n).map(|_| r.log_normal(100.0, 0.8)).collect();
        logn.sort_by(f64::total_cmp);
        let median = logn[n / 2];
        assert!((median - 100.0).abs() < 2.0, "{median}");
        for _ in 0..10_000 {
            let x = r.range_i64(-3, 3);
            assert!((-3..=3).contains(&x));
            assert!(r.index(5) < 5);
        }
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[r.weighted(&[1.0, 0.0, 2.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!(counts[2] > counts[0] * 3 / 2, "{counts:?}");
    }
}
