"""rnnkit layers: Keras's layers and arguments, as ``torch.nn.Module``s.

from rnnkit import layers
layers.LSTM(64, return_sequences=True)
"""

from rnnkit.layers.attention import AdditiveAttention, Attention
from rnnkit.layers.base import Layer, deserialize_layer, serialize_layer
from rnnkit.layers.bidirectional import MERGE_FNS, Bidirectional
from rnnkit.layers.cell import RecurrentCell
from rnnkit.layers.conv import Conv1D, Conv2D
from rnnkit.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, ConvLSTMCell
from rnnkit.layers.convert import from_keras, from_torch, to_keras
from rnnkit.layers.core_layers import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Input,
    InputLayer,
    Masking,
    TimeDistributed,
)
from rnnkit.layers.gru import GRU, GRUCell
from rnnkit.layers.lambda_layer import Lambda
from rnnkit.layers.lstm import LSTM, LSTMCell
from rnnkit.layers.merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from rnnkit.layers.min_rnn import MinGRU, MinGRUCell, MinLSTM, MinLSTMCell
from rnnkit.layers.normalization import BatchNormalization, LayerNormalization
from rnnkit.layers.pooling import (
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from rnnkit.layers.recurrent import RNN, StackedRNNCells, kernel_report
from rnnkit.layers.regularization import SpatialDropout1D, SpatialDropout2D
from rnnkit.layers.reshaping import Flatten, Permute, RepeatVector, Reshape
from rnnkit.layers.simple_rnn import SimpleRNN, SimpleRNNCell

__all__ = [
    "GRU",
    "LSTM",
    "MERGE_FNS",
    "RNN",
    "Activation",
    "Add",
    "AdditiveAttention",
    "Attention",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Conv2D",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "ConvLSTMCell",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "LSTMCell",
    "Lambda",
    "Layer",
    "LayerNormalization",
    "Masking",
    "MaxPooling1D",
    "MaxPooling2D",
    "Maximum",
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
    "Minimum",
    "Multiply",
    "Permute",
    "RecurrentCell",
    "RepeatVector",
    "Reshape",
    "SimpleRNN",
    "SimpleRNNCell",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "StackedRNNCells",
    "Subtract",
    "TimeDistributed",
    "deserialize_layer",
    "from_keras",
    "from_torch",
    "kernel_report",
    "serialize_layer",
    "to_keras",
]
