//! The CNN's convolution and max pooling, fast on the CPU.
//!
//! On burn-ndarray (the CPU backend, training through `Autodiff` and
//! evaluating without it) [`conv2d`] and [`max_pool2d`] are custom autodiff
//! ops with hand-written backward passes over plain slices
//! (`conv_kernel`, `pool_kernel`): each image unfolded (im2col) into a
//! scratch matrix that stays in the L2 cache, and register-blocked products
//! with it, in AVX-512 intrinsics where the processor has them. On any other
//! backend (CUDA) they are burn's own `Conv2d` and `MaxPool2d`, and so is any
//! configuration the kernels do not cover (strides, dilation, groups, `Same`
//! padding, no bias).
//!
//! Why not burn's ops: without its `simd` feature (which breaks bit-for-bit
//! reproducibility) burn-ndarray convolves directly, with dynamically indexed
//! loops, and computes the input gradient as a transposed convolution of the
//! same kind: 90% of the CNN's training profile, 69% in that input gradient.
//! Two earlier versions here measured what else does not reach PyTorch: the
//! im2col formulation written with burn tensor ops (shifted slices or
//! `select`, then `cat` and `matmul`) trained 4-6x faster than burn's
//! convolution but no more, since every burn-ndarray `reshape`, `slice` and
//! `cat` copies and each slice's backward pass adds a zero tensor the size of
//! the input; im2col plus matrixmultiply's sgemm per image trained 10x faster,
//! but spent a third of its time packing the small matrices and faulting in
//! the unfolded copies it kept for the backward pass.
//!
//! Every sum runs in a fixed order on one thread, with one rounding per
//! multiply-add whichever instructions run it, so a seed gives bit-identical
//! results.

mod conv;
mod conv_kernel;
mod pool;
mod pool_kernel;

pub use conv::conv2d;
pub use conv_kernel::ConvShape;
pub use pool::max_pool2d;

use burn::backend::ndarray::NdArrayTensor;
use burn::backend::{Autodiff, NdArray};
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use std::any::Any;

/// The CPU backend the kernels run on.
type Cpu = NdArray<f32>;
/// The CPU training backend (`crate::CpuBackend`).
type CpuAutodiff = Autodiff<Cpu>;
/// A float tensor primitive of the CPU backend.
type CpuPrimitive = burn::tensor::ops::FloatTensor<Cpu>;

/// `t` as a `U` when `T` is `U`, else `t` back.
fn cast<T: 'static, U: 'static>(t: T) -> Result<U, T> {
    let mut slot = Some(t);
    match (&mut slot as &mut dyn Any).downcast_mut::<Option<U>>() {
        Some(u) => Ok(u.take().expect("filled above")),
        None => Err(slot.expect("left alone")),
    }
}

/// `t` as a `U`, where the caller knows `T` is `U`.
fn same<T: 'static, U: 'static>(t: T) -> U {
    cast(t).unwrap_or_else(|_| unreachable!("the types were compared"))
}

/// The elements of `t`, row-major (no copy when `t` owns contiguous data).
fn to_vec<const D: usize>(t: Tensor<Cpu, D>) -> Vec<f32> {
    t.into_data().into_vec().expect("a float tensor of the f32 backend")
}

/// `f` of the elements of `t`, row-major: borrowed when they are contiguous
/// (activations a later backward pass still holds, parameters), else copied.
fn with_values<const D: usize, R>(t: &Tensor<Cpu, D>, f: impl FnOnce(&[f32]) -> R) -> R {
    if let NdArrayTensor::F32(storage) = t.clone().into_primitive().tensor()
        && let Some(values) = storage.view().as_slice()
    {
        return f(values);
    }
    f(&to_vec(t.clone()))
}

/// `data` (row-major) as a tensor of `shape`, without a copy.
fn from_vec<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> Tensor<Cpu, D> {
    Tensor::from_data(TensorData::new(data, shape), &Default::default())
}

fn from_primitive<const D: usize>(p: CpuPrimitive) -> Tensor<Cpu, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

fn into_primitive<const D: usize>(t: Tensor<Cpu, D>) -> CpuPrimitive {
    t.into_primitive().tensor()
}
