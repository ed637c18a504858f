//! 2x2 max pooling with stride 2, with its backward pass.

use super::{Cpu, CpuAutodiff, cast, from_primitive, from_vec, into_primitive, same, with_values};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};

use super::pool_kernel::{backward, forward, output_dims};

/// `pool` applied to `x` `[n, c, h, w]`: the same function as
/// `pool.forward(x)`, computed by the CPU kernel on burn-ndarray when `pool`
/// is 2x2 with stride 2 and no padding.
pub fn max_pool2d<B: Backend>(pool: &MaxPool2d, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let covered = pool.kernel_size == [2, 2]
        && pool.stride == [2, 2]
        && pool.dilation == [1, 1]
        && pool.padding == PaddingConfig2d::Valid
        && !pool.ceil_mode;
    if !covered {
        return pool.forward(x);
    }
    let x = match cast::<_, Tensor<CpuAutodiff, 4>>(x) {
        Ok(x) => return same(forward_autodiff(x)),
        Err(x) => x,
    };
    match cast::<_, Tensor<Cpu, 4>>(x) {
        Ok(x) => {
            let dims = x.dims();
            let y = with_values(&x, |x| forward(dims, x));
            same(from_vec(y, output_dims(dims)))
        }
        Err(x) => pool.forward(x),
    }
}

/// The custom autodiff op.
#[derive(Debug)]
struct PoolOp;

impl Backward<Cpu, 1> for PoolOp {
    /// The input and the output (tensors share their data: no copy).
    type State = (Tensor<Cpu, 4>, Tensor<Cpu, 4>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [Some(node)] = ops.parents else {
            return;
        };
        let dy = from_primitive::<4>(grads.consume::<Cpu>(&ops.node));
        let (x, y) = ops.state;
        let dims = x.dims();
        let dx = with_values(&x, |x| {
            with_values(&y, |y| with_values(&dy, |dy| backward(dims, x, y, dy)))
        });
        grads.register::<Cpu>(node.id, into_primitive(from_vec(dx, dims)));
    }
}

fn forward_autodiff(x: Tensor<CpuAutodiff, 4>) -> Tensor<CpuAutodiff, 4> {
    let x = x.into_primitive().tensor();
    let nodes = [x.node.clone()];
    let x = from_primitive::<4>(x.primitive);
    let dims = x.dims();
    let y = from_vec(with_values(&x, |x| forward(dims, x)), output_dims(dims));
    let out = match PoolOp.prepare::<NoCheckpointing>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => prep.finish((x, y.clone()), into_primitive(y)),
        OpsKind::UnTracked(prep) => prep.finish(into_primitive(y)),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
