//! Unit tests of `sweep_train::layers`: the CPU convolution and max pooling
//! compute burn's `Conv2d` and `MaxPool2d`, values and gradients.

use burn::backend::{Autodiff, NdArray};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use sweep_train::layers::{ConvShape, conv2d, max_pool2d};

type Cpu = NdArray<f32>;
type Ad = Autodiff<Cpu>;

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().to_vec::<f32>().unwrap()
}

/// Equal up to float rounding (the sums run in another order than burn's):
/// within 1e-5 of the tensor's largest value.
fn assert_close<B: Backend, const D: usize>(ours: Tensor<B, D>, burn: Tensor<B, D>, what: &str) {
    assert_eq!(ours.dims(), burn.dims(), "{what}: shape");
    let burn = values(burn);
    let tolerance = 1e-5 * burn.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in values(ours).into_iter().zip(burn).enumerate() {
        assert!((a - b).abs() <= tolerance, "{what}[{i}]: {a} vs burn's {b}");
    }
}

fn normal<B: Backend, const D: usize>(shape: [usize; D]) -> Tensor<B, D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), &Default::default())
}

fn conv<B: Backend>(channels: [usize; 2], padding: [usize; 4]) -> Conv2d<B> {
    let [top, left, bottom, right] = padding;
    Conv2dConfig::new(channels, [5, 5])
        .with_padding(PaddingConfig2d::Explicit(top, left, bottom, right))
        .init(&Default::default())
}

const PADDINGS: [[usize; 4]; 3] = [[0; 4], [2; 4], [1, 3, 0, 2]];

#[test]
fn conv2d_computes_burns_convolution() {
    Cpu::seed(&Default::default(), 1);
    for padding in PADDINGS {
        let conv = conv::<Cpu>([3, 4], padding);
        let x = normal::<Cpu, 4>([2, 3, 12, 9]);
        assert_close(
            conv2d(&conv, x.clone()),
            conv.forward(x),
            &format!("output, padding {padding:?}"),
        );
    }
}

#[test]
fn conv2d_gradients_are_burns() {
    Ad::seed(&Default::default(), 2);
    for padding in PADDINGS {
        let conv = conv::<Ad>([3, 4], padding);
        let x = normal::<Ad, 4>([2, 3, 12, 9]).require_grad();
        let ours = conv2d(&conv, x.clone());
        let theirs = conv.forward(x.clone());
        // A loss whose gradient differs at every output value.
        let r = normal::<Ad, 4>(ours.dims());
        let g_ours = (ours.clone() * r.clone()).sum().backward();
        let g_burn = (theirs.clone() * r).sum().backward();
        let at = format!("padding {padding:?}");
        assert_close(ours, theirs, &format!("output, {at}"));
        let grad = |t: Tensor<Ad, 4>, g| t.grad(g).unwrap();
        assert_close(
            grad(x.clone(), &g_ours),
            grad(x, &g_burn),
            &format!("input gradient, {at}"),
        );
        let w = conv.weight.val();
        assert_close(
            grad(w.clone(), &g_ours),
            grad(w, &g_burn),
            &format!("weight gradient, {at}"),
        );
        let b = conv.bias.as_ref().unwrap().val();
        assert_close(
            b.grad(&g_ours).unwrap(),
            b.grad(&g_burn).unwrap(),
            &format!("bias gradient, {at}"),
        );
    }
}

#[test]
fn conv2d_of_data_gives_parameter_gradients_only() {
    // The first layer's input needs no gradient: the op skips it.
    Ad::seed(&Default::default(), 3);
    let conv = conv::<Ad>([1, 6], [2; 4]);
    let x = normal::<Ad, 4>([4, 1, 28, 28]);
    let g_ours = conv2d(&conv, x.clone()).sum().backward();
    let g_burn = conv.forward(x.clone()).sum().backward();
    assert!(x.grad(&g_ours).is_none());
    let w = conv.weight.val();
    assert_close(w.grad(&g_ours).unwrap(), w.grad(&g_burn).unwrap(), "weight gradient");
}

#[test]
fn max_pool2d_is_burns_with_its_gradient() {
    Ad::seed(&Default::default(), 4);
    let pool = MaxPool2dConfig::new([2, 2]).init();
    // An odd size: the last row and column are dropped, as by burn.
    let x = normal::<Ad, 4>([3, 2, 9, 8]).require_grad();
    let ours = max_pool2d(&pool, x.clone());
    let theirs = pool.forward(x.clone());
    assert_eq!(values(ours.clone()), values(theirs.clone()));
    let r = normal::<Ad, 4>(ours.dims());
    let g_ours = (ours * r.clone()).sum().backward();
    let g_burn = (theirs * r).sum().backward();
    assert_eq!(values(x.grad(&g_ours).unwrap()), values(x.grad(&g_burn).unwrap()));
    // Without autodiff too.
    let x = normal::<Cpu, 4>([2, 3, 6, 6]);
    assert_eq!(values(max_pool2d(&pool, x.clone())), values(pool.forward(x)));
}

#[test]
fn other_configurations_are_burns_own() {
    Cpu::seed(&Default::default(), 5);
    let strided: Conv2d<Cpu> = Conv2dConfig::new([2, 3], [3, 3])
        .with_stride([2, 2])
        .init(&Default::default());
    let x = normal::<Cpu, 4>([1, 2, 8, 8]);
    assert_eq!(values(conv2d(&strided, x.clone())), values(strided.forward(x.clone())));
    let pool = MaxPool2dConfig::new([3, 3]).init();
    assert_eq!(values(max_pool2d(&pool, x.clone())), values(pool.forward(x)));
}

#[test]
fn the_same_inputs_give_the_same_bits() {
    Ad::seed(&Default::default(), 6);
    let conv = conv::<Ad>([6, 16], [0; 4]);
    let pool = MaxPool2dConfig::new([2, 2]).init();
    let x = normal::<Ad, 4>([8, 6, 14, 14]).require_grad();
    let run = || {
        let y = max_pool2d(&pool, conv2d(&conv, x.clone()));
        let g = y.clone().sum().backward();
        let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
        (
            bits(values(y)),
            bits(values(x.grad(&g).unwrap())),
            bits(values(conv.weight.val().grad(&g).unwrap())),
        )
    };
    assert_eq!(run(), run());
}

#[test]
fn conv_shapes() {
    let s = ConvShape::new([64, 1, 28, 28], [6, 1, 5, 5], [2; 4]);
    assert_eq!(s.output_dims(), [64, 6, 28, 28]);
    let s = ConvShape::new([64, 6, 14, 14], [16, 6, 5, 5], [0; 4]);
    assert_eq!(s.output_dims(), [64, 16, 10, 10]);
    assert_eq!(s.weight_dims(), [16, 6, 5, 5]);
    assert_eq!(s.input_dims(), [64, 6, 14, 14]);
}
