"""The table of Keras 2 spellings as Markdown: ``python -m lamella.keras2.reference``.

``docs/keras2.md`` is this module's output; a test keeps the two equal, so the page can
never drift from what lamella accepts.
"""

from __future__ import annotations

from lamella.keras2.construct import KERAS2_DEFAULTS
from lamella.keras2.tables import CLASSES, MERGE_MODES, RENAMES, REQUIRED, UNSUPPORTED

_FUNCTIONS = {
    "add": "Merge(mode='sum')",
    "multiply": "Merge(mode='mul')",
    "average": "Merge(mode='ave')",
    "maximum": "Merge(mode='max')",
    "concatenate(axis)": "Merge(mode='concat', concat_axis)",
    "dot(axes, normalize)": "Merge(mode='dot' or 'cos', dot_axes)",
}
_ELSEWHERE = [
    ("Model(inputs=, outputs=)", "Model(input=, output=)"),
    ("fit(epochs=)", "fit(nb_epoch=)"),
    ("fit_generator(steps_per_epoch=) (batches)", "fit_generator(samples_per_epoch=)"),
    ("validation_steps=", "nb_val_samples="),
    ("evaluate_generator/predict_generator(steps=)", "(val_samples=)"),
    ("max_queue_size=, workers=, use_multiprocessing=", "max_q_size=, nb_worker=, pickle_safe="),
    ("to_categorical(y, num_classes=)", "to_categorical(y, nb_classes=)"),
    ("Tokenizer(num_words=)", "Tokenizer(nb_words=)"),
    ("imdb/reuters.load_data(num_words=)", "load_data(nb_words=)"),
    ("K.image_data_format(), K.set_image_data_format()", "K.image_dim_ordering() ..."),
    ("'zeros', 'ones', 'random_normal', 'random_uniform'", "'zero', 'one', 'normal', 'uniform'"),
    ("max_norm, non_neg, unit_norm, min_max_norm", "maxnorm, nonneg, unitnorm, minmaxnorm"),
    ("MaxNorm(max_value=), MinMaxNorm(min_value=, max_value=)", "MaxNorm(m=), (low=, high=)"),
    ("regularizers.l1_l2", "regularizers.l1l2"),
]


def _rows(pairs: list[tuple[str, str]]) -> list[str]:
    return [f"| `{keras2}` | `{keras1}` |" for keras2, keras1 in pairs]


def markdown() -> str:
    """The page: classes, arguments, merge layers, other names, and what is refused."""
    lines = [
        "# Keras 2 spellings",
        "",
        "lamella is built on Keras 1's arguments and accepts Keras 2's names for them, in layer",
        "constructors and in Keras 2/3 files alike. A call that uses a Keras 2 name gets Keras",
        "2's defaults where they differ (listed below); configs and saved files stay Keras 1's.",
        "Giving one argument under both names is an error. This page is generated from",
        "`lamella.keras2.tables` by `python -m lamella.keras2.reference`.",
        "",
        "## Layer classes",
        "",
        "| Keras 2 | Keras 1 (lamella) | arguments renamed for this class |",
        "|---|---|---|",
    ]
    for keras2, (keras1, renames) in sorted(CLASSES.items()):
        if keras2 in MERGE_MODES or keras2 == "Functional":
            continue
        renamed = ", ".join(f"`{a}` → `{b}`" for a, b in renames.items() if a != b) or ""
        lines.append(f"| `{keras2}` | `{keras1}` | {renamed} |")
    lines += [
        "",
        "Every other layer (`Dense`, `LSTM`, `BatchNormalization` ...) has the same name in",
        "Keras 1 and 2. A Keras 2 convolution with `dilation_rate` other than 1 is Keras 1's",
        "`AtrousConvolution1D`/`2D`; `Conv2D(filters, kernel_size)` fills Keras 1's",
        "`nb_row`/`nb_col` (an int for every axis, as in Keras 2).",
        "",
        "## Arguments of every layer",
        "",
        "| Keras 2 | Keras 1 (lamella) |",
        "|---|---|",
        *_rows(sorted(RENAMES.items())),
        "",
        "Keras 2 arguments Keras 1 has no counterpart for are accepted only with the one value",
        "lamella computes as: " + ", ".join(f"`{k}={v!r}`" for k, v in sorted(REQUIRED.items())),
        "; `bias_initializer` only as `'zeros'`. Speed knobs such as `implementation` and",
        "`unroll` are accepted and change nothing.",
        "",
        "## Keras 2 defaults that differ",
        "",
        "| layer | when spelled the Keras 2 way |",
        "|---|---|",
        *(
            f"| `{layer}` | " + ", ".join(f"`{k}={v!r}`" for k, v in defaults.items()) + " |"
            for layer, defaults in sorted(KERAS2_DEFAULTS.items())
        ),
        "",
        "`fit_generator` spelled with `steps_per_epoch` or `epochs` runs 1 epoch unless told",
        "(Keras 2's default); positional arguments are Keras 1's (samples, not steps).",
        "`data_format` left out follows `K.image_data_format()` (lamella's",
        "`image_dim_ordering`, `'th'` unless configured), as Keras 2's does.",
        "",
        "## Merge layers and functions",
        "",
        "| Keras 2 | Keras 1 (lamella) |",
        "|---|---|",
        *_rows([(name, f"Merge(mode={mode!r})") for name, mode in sorted(MERGE_MODES.items())]),
        *_rows(list(_FUNCTIONS.items())),
        "",
        "## Other names",
        "",
        "| Keras 2 | Keras 1 (lamella) |",
        "|---|---|",
        *_rows(_ELSEWHERE),
        "",
        "## Refused in Keras 2/3 files",
        "",
        *(f"- `{name}`: {why}" for name, why in sorted(UNSUPPORTED.items())),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
