"""The ImageNet models as Keras 1.2.2 builds them: parameter counts, layer names, layer
order (which a weights file is read by), shapes, and the arguments' rules.

The parameter counts were worked out by hand from Keras 1.2.2's source (a convolution
has kh*kw*in*out weights and out biases, a batch normalization 4 per channel, a
separable convolution 3*3*in + in*out); VGG16's 138,357,544 is the published figure.
Models are built with ``weights=None``: nothing is downloaded here.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

from lamella import backend as K
from lamella.apps import VGG16, VGG19, InceptionV3, ResNet50, Xception
from lamella.layers import Activation, Input

#: (with the top, without it), from Keras 1.2.2's layers.
PARAMS = {
    VGG16: (138_357_544, 14_714_688),
    VGG19: (143_667_240, 20_024_384),
    ResNet50: (25_636_712, 23_587_712),
    InceptionV3: (23_660_968, 21_611_968),
    Xception: (22_910_480, 20_861_480),
}
#: Default size with the top; a small accepted size without it, and the side it ends at.
SIZES = {
    VGG16: (224, 48, 1),
    VGG19: (224, 48, 1),
    ResNet50: (224, 197, 1),
    InceptionV3: (299, 139, 3),
    Xception: (299, 71, 3),
}
FEATURES = {VGG16: 512, VGG19: 512, ResNet50: 2048, InceptionV3: 2048, Xception: 2048}
MODELS = list(PARAMS)


@contextlib.contextmanager
def dim_ordering(value):
    before = K.image_dim_ordering()
    K.set_image_dim_ordering(value)
    try:
        yield
    finally:
        K.set_image_dim_ordering(before)


def build(function, ordering, **kwargs):
    """``function(weights=None, ...)``; Xception warns under 'th' and is built for 'tf'."""
    if function is Xception and ordering == "th":
        with pytest.warns(UserWarning, match="only in the 'tf' dim ordering"):
            return function(weights=None, **kwargs)
    return function(weights=None, **kwargs)


def image_shape(function, ordering, side):
    channels_first = ordering == "th" and function is not Xception
    return (3, side, side) if channels_first else (side, side, 3)


def keras_layer_order(model):
    """Keras 1.2.2's ``Container.layers``, computed its own way: a walk from the outputs
    gives each layer its greatest depth and the index at which it was first met, and
    layers come deepest first, ties in meeting order."""
    depths, met = {}, {}

    def visit(tensor, depth, seen):
        layer = tensor.layer
        node = layer.inbound_nodes[tensor.node_index]
        seen.add((id(node), depth))
        depth = depths[layer] = max(depth, depths.get(layer, depth))
        met.setdefault(layer, len(met))
        for inbound in node.inbound_tensors:
            upstream = inbound.layer.inbound_nodes[inbound.node_index]
            if (id(upstream), depth + 1) not in seen:
                visit(inbound, depth + 1, seen)

    for output in model.outputs:
        visit(output, 0, set())
    return sorted(depths, key=lambda layer: (-depths[layer], met[layer]))


def _specs(text):
    """``"32x3x3 64x1x1"`` -> ``[(32, 3, 3), (64, 1, 1)]``."""
    return [tuple(int(n) for n in spec.split("x")) for spec in text.split()]


#: (filters, rows, cols) of InceptionV3's convolutions in the order Keras 1.2.2 makes
#: them, which numbers their automatic names (convolution2d_1 ...).
INCEPTION_CONVOLUTIONS = [
    *_specs("32x3x3 32x3x3 64x3x3 80x1x1 192x3x3"),
    *3 * _specs("64x1x1 48x1x1 64x5x5 64x1x1 96x3x3 96x3x3 32x1x1"),  # mixed0-2
    *_specs("384x3x3 64x1x1 96x3x3 96x3x3"),  # mixed3
    *(
        spec
        for w, first in ((128, 128), (160, 160), (160, 160), (192, 160))  # mixed4-7
        for spec in _specs(
            f"192x1x1 {w}x1x1 {w}x1x7 192x7x1 {first}x1x1 {w}x7x1 {w}x1x7 {w}x7x1 192x1x7 192x1x1"
        )
    ),
    *_specs("192x1x1 320x3x3 192x1x1 192x1x7 192x7x1 192x3x3"),  # mixed8
    *2 * _specs("320x1x1 384x1x1 384x1x3 384x3x1 448x1x1 384x3x3 384x1x3 384x3x1 192x1x1"),
]


def _numbered(prefix, count):
    return {f"{prefix}_{i}" for i in range(1, count + 1)}


def _vgg_names(blocks):
    names = {"input_1"}
    for block, convs in enumerate(blocks, 1):
        names |= {f"block{block}_conv{c}" for c in range(1, convs + 1)} | {f"block{block}_pool"}
    return names


def _resnet50_names():
    names = {"input_1", "zeropadding2d_1", "conv1", "bn_conv1", "maxpooling2d_1", "avg_pool"}
    for stage, blocks in ((2, "abc"), (3, "abcd"), (4, "abcdef"), (5, "abc")):
        for block in blocks:
            for part in ("2a", "2b", "2c", "1") if block == "a" else ("2a", "2b", "2c"):
                names |= {f"res{stage}{block}_branch{part}", f"bn{stage}{block}_branch{part}"}
    return names | _numbered("activation", 49) | _numbered("merge", 16)


def _inception_v3_names():
    count = len(INCEPTION_CONVOLUTIONS)
    names = {"input_1", "mixed9_0", "mixed9_1", *(f"mixed{i}" for i in range(11))}
    names |= _numbered("convolution2d", count) | _numbered("batchnormalization", count)
    names |= _numbered("averagepooling2d", 10) | _numbered("maxpooling2d", 3)
    return names | _numbered("merge", 2)


def _xception_names():
    def convs(block, numbers):
        return {f"block{block}_sepconv{c}{end}" for c in numbers for end in ("", "_bn", "_act")}

    names = {"input_1", *(f"block1_conv{c}{end}" for c in (1, 2) for end in ("", "_bn", "_act"))}
    for block in (2, 3, 4, 13):
        names |= convs(block, (1, 2)) | {f"block{block}_pool"}
    names.remove("block2_sepconv1_act")  # block 2 starts without a ReLU
    for block in range(5, 13):
        names |= convs(block, (1, 2, 3))
    names |= convs(14, (1, 2))
    names |= _numbered("convolution2d", 4) | _numbered("batchnormalization", 4)
    return names | _numbered("merge", 12)


#: Every layer's name without the top, and the top's layers.
NAMES = {
    VGG16: (_vgg_names((2, 2, 3, 3, 3)), {"flatten", "fc1", "fc2", "predictions"}),
    VGG19: (_vgg_names((2, 2, 4, 4, 4)), {"flatten", "fc1", "fc2", "predictions"}),
    ResNet50: (_resnet50_names(), {"flatten_1", "fc1000"}),
    InceptionV3: (_inception_v3_names(), {"avg_pool", "flatten", "predictions"}),
    Xception: (_xception_names(), {"avg_pool", "predictions"}),
}


@pytest.mark.parametrize("function", MODELS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("include_top", [True, False], ids=["top", "notop"])
def test_parameter_counts_names_and_layer_order_are_keras_1s(function, include_top, ordering):
    model = build(function, ordering, include_top=include_top)
    assert model.count_params() == PARAMS[function][0 if include_top else 1]
    assert model.name == function.__name__.lower().replace("v3", "_v3")
    names = [layer.name for layer in model.layers]
    base, top = NAMES[function]
    assert len(names) == len(set(names)) and set(names) == (base | top if include_top else base)
    assert model.layers == keras_layer_order(model)  # the order weights files follow
    default, _, _ = SIZES[function]
    if include_top:
        assert model.input_shape == (None, *image_shape(function, ordering, default))
        assert model.output_shape == (None, 1000)
    else:  # any size: the spatial dimensions stay open
        features = FEATURES[function]
        channels_first = ordering == "th" and function is not Xception
        open_shape = (features, None, None) if channels_first else (None, None, features)
        assert model.output_shape == (None, *open_shape)


@pytest.mark.parametrize("function", MODELS, ids=lambda f: f.__name__)
def test_without_the_top_a_small_image_runs_through(function, ordering):
    """At the smallest size Keras 1.2.2 accepts, the declared output shape is the real one."""
    _, side, end = SIZES[function]
    shape = image_shape(function, ordering, side)
    model = build(function, ordering, include_top=False, input_shape=shape)
    features = FEATURES[function]
    channels_first = ordering == "th" and function is not Xception
    expected = (features, end, end) if channels_first else (end, end, features)
    assert model.output_shape == (None, *expected)
    out = model.predict(np.random.default_rng(0).random((1, *shape), dtype=np.float32))
    assert out.shape == (1, *expected) and np.isfinite(out).all()


def test_inception_v3_numbers_its_convolutions_as_keras_1_does():
    """Unnamed layers are numbered in the order they are made: each ``convolution2d_i``
    is Keras's i-th, and ``batchnormalization_i`` follows it."""
    model = InceptionV3(weights=None, include_top=False)
    for i, spec in enumerate(INCEPTION_CONVOLUTIONS, 1):
        conv = model.get_layer(f"convolution2d_{i}")
        assert (conv.nb_filter, conv.nb_row, conv.nb_col) == spec, conv.name
        norm = model.get_layer(f"batchnormalization_{i}")
        assert norm.inbound_nodes[0].inbound_tensors[0].layer is conv


def test_xception_numbers_its_shortcuts_and_separates_its_convolutions():
    with dim_ordering("tf"):
        model = Xception(weights=None, include_top=False)
    residuals = [model.get_layer(f"convolution2d_{i}").nb_filter for i in (1, 2, 3, 4)]
    assert residuals == [128, 256, 728, 1024]
    assert type(model.get_layer("block5_sepconv1")).__name__ == "SeparableConvolution2D"


def test_xception_under_th_is_a_tf_model_and_leaves_the_setting_alone(ordering):
    model = build(Xception, ordering, include_top=False, input_shape=(80, 90, 3))
    assert K.image_dim_ordering() == ordering
    assert model.get_layer("block1_conv1").dim_ordering == "tf"
    assert model.output_shape == (None, 3, 3, 2048)


def test_other_class_counts_get_their_own_top():
    model = ResNet50(weights=None, classes=10)
    assert model.output_shape == (None, 10)
    assert model.count_params() == PARAMS[ResNet50][1] + 2048 * 10 + 10


def test_an_input_tensor_is_built_upon():
    """The model starts from the caller's tensor; layers upstream of it become its own."""
    image = Input(shape=(3, 48, 48))
    scaled = Activation("linear", name="upstream")(image)
    model = VGG16(weights=None, include_top=False, input_tensor=scaled)
    assert model.inputs == [image] and model.layers[1].name == "upstream"
    assert model.output_shape == (None, 512, 1, 1)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"weights": "places"}, ValueError, r"VGG16: weights must be None .* got 'places'"),
        ({"classes": 10}, ValueError, r"classes must be 1000 .* got 10"),
        ({"input_shape": (3, 200, 200), "weights": None}, ValueError,
         r"include_top=True, input_shape must be \(3, 224, 224\)"),
        ({"include_top": False, "input_shape": (1, 64, 64), "weights": None}, ValueError,
         r"input_shape must have 3 channels \(first, dim_ordering 'th'\), got \(1, 64, 64\)"),
        ({"include_top": False, "input_shape": (3, 47, 64), "weights": None}, ValueError,
         r"input_shape must be at least 48x48, got \(3, 47, 64\)"),
        ({"include_top": False, "input_shape": (3, 64), "weights": None}, ValueError,
         r"input_shape must hold three integers"),
        ({"input_tensor": np.zeros((1, 3, 224, 224)), "weights": None}, TypeError,
         r"input_tensor must be a symbolic tensor .* got ndarray"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_before_anything_is_built(kwargs, error, message):
    with dim_ordering("th"), pytest.raises(error, match=message):
        VGG16(**kwargs)
