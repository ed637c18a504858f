//! 2x2 max pooling with stride 2 on plain slices, forward and backward. No
//! burn types here.
//!
//! As burn's kernel: the first maximum in row-major window order wins, and
//! NaN never does (a window of NaN gives negative infinity, and its gradient
//! goes to its first value). The backward pass finds each window's maximum
//! again in the input rather than keeping its position.

/// `[n, c, h / 2, w / 2]`.
pub fn output_dims([n, c, h, w]: [usize; 4]) -> [usize; 4] {
    [n, c, h / 2, w / 2]
}

/// The larger of `best` and `v`, keeping `best` on ties and when `v` is NaN.
#[inline(always)]
fn keep_max(best: f32, v: f32) -> f32 {
    if v > best { v } else { best }
}

/// The pooled `[n, c, h / 2, w / 2]` of `x` `[n, c, h, w]`.
pub fn forward(dims: [usize; 4], x: &[f32]) -> Vec<f32> {
    let [n, c, h, w] = dims;
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(x.len(), n * c * h * w);
    let mut y = vec![0.0f32; n * c * oh * ow];
    if oh * ow == 0 {
        return y;
    }
    let mut pairs = vec![0.0f32; 2 * ow];
    for (plane, y) in x.chunks_exact(h * w).zip(y.chunks_exact_mut(oh * ow)) {
        for (oy, y) in y.chunks_exact_mut(ow).enumerate() {
            let top = &plane[2 * oy * w..2 * oy * w + 2 * ow];
            let bottom = &plane[(2 * oy + 1) * w..(2 * oy + 1) * w + 2 * ow];
            // Columns first (top, then bottom), then the two columns: the
            // window order (top left, top right, bottom left, bottom right)
            // decides only ties, and ties have equal values.
            for ((p, &t), &b) in pairs.iter_mut().zip(top).zip(bottom) {
                *p = keep_max(keep_max(f32::NEG_INFINITY, t), b);
            }
            for (y, p) in y.iter_mut().zip(pairs.chunks_exact(2)) {
                *y = keep_max(p[0], p[1]);
            }
        }
    }
    y
}

/// The input's gradient: each output gradient at its window's first maximum
/// (the first value equal to the pooled one, else the window's first value),
/// zero elsewhere. Every element of the result is written once, without
/// branches.
pub fn backward(dims: [usize; 4], x: &[f32], y: &[f32], dy: &[f32]) -> Vec<f32> {
    let [n, c, h, w] = dims;
    let (oh, ow) = (h / 2, w / 2);
    assert_eq!(x.len(), n * c * h * w);
    assert_eq!(y.len(), n * c * oh * ow);
    assert_eq!(dy.len(), y.len());
    let mut dx = vec![0.0; x.len()];
    if oh * ow == 0 {
        return dx;
    }
    let planes = x.chunks_exact(h * w).zip(dx.chunks_exact_mut(h * w));
    for ((plane, dplane), (y, dy)) in planes.zip(y.chunks_exact(oh * ow).zip(dy.chunks_exact(oh * ow))) {
        for oy in 0..oh {
            let (top, bottom) = (2 * oy * w, (2 * oy + 1) * w);
            let (t, b) = (&plane[top..top + 2 * ow], &plane[bottom..bottom + 2 * ow]);
            let (dtop, rest) = dplane[top..].split_at_mut(w);
            let dbottom = &mut rest[..2 * ow];
            let (y, dy) = (&y[oy * ow..(oy + 1) * ow], &dy[oy * ow..(oy + 1) * ow]);
            let windows = t.chunks_exact(2).zip(b.chunks_exact(2));
            let grads = dtop[..2 * ow].chunks_exact_mut(2).zip(dbottom.chunks_exact_mut(2));
            for (((t, b), (dt, db)), (&m, &g)) in windows.zip(grads).zip(y.iter().zip(dy)) {
                // Non-short-circuit `&` and `|`: no branches on the data.
                let (ea, eb, ec, ed) = (t[0] == m, t[1] == m, b[0] == m, b[1] == m);
                let e1 = !ea & eb;
                let e2 = !ea & !eb & ec;
                let e3 = !ea & !eb & !ec & ed;
                let e0 = !(e1 | e2 | e3);
                dt[0] = if e0 { g } else { 0.0 };
                dt[1] = if e1 { g } else { 0.0 };
                db[0] = if e2 { g } else { 0.0 };
                db[1] = if e3 { g } else { 0.0 };
            }
        }
    }
    dx
}
