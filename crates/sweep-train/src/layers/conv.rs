//! 2-D convolution as im2col plus one sgemm per image, with its backward pass.

use super::conv_kernel::ConvShape;
use super::{Cpu, CpuAutodiff, cast, from_primitive, from_vec, into_primitive, same, with_values};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};

/// `conv` applied to `x` `[n, c, h, w]`: the same function as
/// `conv.forward(x)`, computed by the CPU kernels on burn-ndarray.
pub fn conv2d<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let (Some(padding), Some(bias)) = (kernel_padding(conv), &conv.bias) else {
        return conv.forward(x);
    };
    let x = match cast::<_, Tensor<CpuAutodiff, 4>>(x) {
        Ok(x) => return same(forward_autodiff(x, same(conv.weight.val()), same(bias.val()), padding)),
        Err(x) => x,
    };
    match cast::<_, Tensor<Cpu, 4>>(x) {
        Ok(x) => {
            let (weight, bias): (Tensor<Cpu, 4>, Tensor<Cpu, 1>) = (same(conv.weight.val()), same(bias.val()));
            let shape = ConvShape::new(x.dims(), weight.dims(), padding);
            let y = forward_tensors(&shape, &x, &weight, &bias);
            same(from_vec(y, shape.output_dims()))
        }
        Err(x) => conv.forward(x),
    }
}

/// The padding (top, left, bottom, right) when the kernels cover `conv`.
fn kernel_padding<B: Backend>(conv: &Conv2d<B>) -> Option<[usize; 4]> {
    if conv.stride != [1, 1] || conv.dilation != [1, 1] || conv.groups != 1 {
        return None;
    }
    match conv.padding {
        PaddingConfig2d::Valid => Some([0; 4]),
        PaddingConfig2d::Explicit(top, left, bottom, right) => Some([top, left, bottom, right]),
        PaddingConfig2d::Same => None,
    }
}

/// The custom autodiff op: input, weight and bias.
#[derive(Debug)]
struct ConvOp;

/// What the backward pass needs: the input and the weight (tensors share
/// their data: no copy).
#[derive(Debug, Clone)]
struct Saved {
    shape: ConvShape,
    x: Tensor<Cpu, 4>,
    weight: Tensor<Cpu, 4>,
}

impl Backward<Cpu, 3> for ConvOp {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let dy = from_primitive::<4>(grads.consume::<Cpu>(&ops.node));
        let Saved { shape, x, weight } = ops.state;
        let (dx, dw, db) = with_values(&x, |x| {
            with_values(&weight, |weight| {
                with_values(&dy, |dy| shape.backward(x, weight, dy, node_x.is_some()))
            })
        });
        if let (Some(node), Some(dx)) = (node_x, dx) {
            grads.register::<Cpu>(node.id, into_primitive(from_vec(dx, shape.input_dims())));
        }
        if let Some(node) = node_w {
            grads.register::<Cpu>(node.id, into_primitive(from_vec(dw, shape.weight_dims())));
        }
        if let Some(node) = node_b {
            grads.register::<Cpu>(node.id, into_primitive(from_vec(db, [shape.out_channels])));
        }
    }
}

fn forward_autodiff(
    x: Tensor<CpuAutodiff, 4>,
    weight: Tensor<CpuAutodiff, 4>,
    bias: Tensor<CpuAutodiff, 1>,
    padding: [usize; 4],
) -> Tensor<CpuAutodiff, 4> {
    let (x, weight, bias) = (
        x.into_primitive().tensor(),
        weight.into_primitive().tensor(),
        bias.into_primitive().tensor(),
    );
    let nodes = [x.node.clone(), weight.node.clone(), bias.node.clone()];
    let x = from_primitive::<4>(x.primitive);
    let weight = from_primitive::<4>(weight.primitive);
    let bias = from_primitive::<1>(bias.primitive);
    let shape = ConvShape::new(x.dims(), weight.dims(), padding);
    let out = match ConvOp.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let y = forward_tensors(&shape, &x, &weight, &bias);
            let saved = Saved { shape, x, weight };
            prep.finish(saved, into_primitive(from_vec(y, shape.output_dims())))
        }
        OpsKind::UnTracked(prep) => {
            let y = forward_tensors(&shape, &x, &weight, &bias);
            prep.finish(into_primitive(from_vec(y, shape.output_dims())))
        }
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// The output of `shape` for the tensors `x`, `weight` and `bias`.
fn forward_tensors(shape: &ConvShape, x: &Tensor<Cpu, 4>, weight: &Tensor<Cpu, 4>, bias: &Tensor<Cpu, 1>) -> Vec<f32> {
    with_values(x, |x| {
        with_values(weight, |w| with_values(bias, |b| shape.forward(x, w, b)))
    })
}
