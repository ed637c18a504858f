//! The networks: an MLP (784-128-10 by default) and a small LeNet-style CNN,
//! generic over the backend so the same code trains on ndarray and CUDA.

use crate::layers;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::activation;
use burn::tensor::backend::Backend;

/// Hidden-layer nonlinearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// max(0, x).
    Relu,
    /// tanh(x).
    Tanh,
    /// 1 / (1 + e^-x).
    Sigmoid,
}

impl Activation {
    /// Parses `relu`, `tanh`, `sigmoid`.
    pub fn parse(s: &str) -> Option<Activation> {
        Some(match s {
            "relu" => Activation::Relu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            _ => return None,
        })
    }

    fn apply<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::Tanh => activation::tanh(x),
            Activation::Sigmoid => activation::sigmoid(x),
        }
    }
}

/// A multilayer perceptron over flattened images.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    hidden: Vec<Linear<B>>,
    output: Linear<B>,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
}

impl<B: Backend> Mlp<B> {
    /// `inputs` -> each of `hidden` -> `classes`.
    pub fn new(
        inputs: usize,
        hidden: &[usize],
        classes: usize,
        activation: Activation,
        dropout: f64,
        device: &B::Device,
    ) -> Self {
        let mut layers = Vec::with_capacity(hidden.len());
        let mut width = inputs;
        for &h in hidden {
            layers.push(LinearConfig::new(width, h).init(device));
            width = h;
        }
        Mlp {
            hidden: layers,
            output: LinearConfig::new(width, classes).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            activation,
        }
    }

    /// Logits for a batch `[n, inputs]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let mut x = x;
        for layer in &self.hidden {
            x = self.dropout.forward(self.activation.apply(layer.forward(x)));
        }
        self.output.forward(x)
    }
}

/// LeNet-5 style: two 5x5 convolutions with max pooling, then three dense layers.
#[derive(Module, Debug)]
pub struct Cnn<B: Backend> {
    conv1: Conv2d<B>,
    conv2: Conv2d<B>,
    pool: MaxPool2d,
    fc1: Linear<B>,
    fc2: Linear<B>,
    fc3: Linear<B>,
    dropout: Dropout,
    #[module(skip)]
    activation: Activation,
    #[module(skip)]
    side: usize,
}

impl<B: Backend> Cnn<B> {
    /// For `side x side` single-channel images.
    pub fn new(side: usize, classes: usize, activation: Activation, dropout: f64, device: &B::Device) -> Self {
        // 28 -> conv(pad 2) 28 -> pool 14 -> conv 10 -> pool 5: 16 x 5 x 5 features.
        let after = ((side / 2) - 4) / 2;
        Cnn {
            conv1: Conv2dConfig::new([1, 6], [5, 5])
                .with_padding(PaddingConfig2d::Explicit(2, 2, 2, 2))
                .init(device),
            conv2: Conv2dConfig::new([6, 16], [5, 5]).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: LinearConfig::new(16 * after * after, 120).init(device),
            fc2: LinearConfig::new(120, 84).init(device),
            fc3: LinearConfig::new(84, classes).init(device),
            dropout: DropoutConfig::new(dropout).init(),
            activation,
            side,
        }
    }

    /// Logits for a batch `[n, side * side]`.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        let [n, _] = x.dims();
        let x = x.reshape([n, 1, self.side, self.side]);
        // Pooling before the activation is the same function (the activations
        // are monotonic) on a quarter of the values.
        let x = self
            .activation
            .apply(layers::max_pool2d(&self.pool, layers::conv2d(&self.conv1, x)));
        let x = self
            .activation
            .apply(layers::max_pool2d(&self.pool, layers::conv2d(&self.conv2, x)));
        let x: Tensor<B, 2> = x.flatten(1, 3);
        let x = self.dropout.forward(self.activation.apply(self.fc1.forward(x)));
        let x = self.dropout.forward(self.activation.apply(self.fc2.forward(x)));
        self.fc3.forward(x)
    }
}

/// The network a trial trains: one of the two.
#[derive(Module, Debug)]
pub struct Net<B: Backend> {
    mlp: Option<Mlp<B>>,
    cnn: Option<Cnn<B>>,
}

impl<B: Backend> Net<B> {
    /// Wraps an MLP.
    pub fn mlp(m: Mlp<B>) -> Self {
        Net {
            mlp: Some(m),
            cnn: None,
        }
    }

    /// Wraps a CNN.
    pub fn cnn(c: Cnn<B>) -> Self {
        Net {
            mlp: None,
            cnn: Some(c),
        }
    }

    /// Logits for a batch of flattened images.
    pub fn forward(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        match (&self.mlp, &self.cnn) {
            (Some(m), _) => m.forward(x),
            (None, Some(c)) => c.forward(x),
            (None, None) => unreachable!("a Net holds one model"),
        }
    }
}
