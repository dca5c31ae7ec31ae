"""Convert the MSD_musicnn weights of the ``musicnn`` 0.1.0 wheel for ``core.pretrained.musicnn``.

    pip download musicnn==0.1.0 --no-deps --no-binary :none: -d /tmp/musicnn
    python -m haverford.core.pretrained.convert_musicnn /tmp/musicnn/musicnn-0.1.0-py3-none-any.whl

The wheel cannot be a dependency (it pins numpy < 1.17); this script reads it as a zip file.
It copies the variables the Keras port uses from the TF1 checkpoint (``tf.train.load_checkpoint``)
into ``musicnn_msd.npz`` (float32 arrays, no pickle), copies the wheel's ISC licence to
``musicnn-LICENSE.md``, then runs the ORIGINAL graph (the checkpoint's ``.meta``, imported with
``tf.compat.v1.train.import_meta_graph`` and restored, in graph mode) on a seeded input and stores
its pooled activations in ``musicnn_msd_reference.npz``, and finally checks the port against them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from haverford.core.pretrained import musicnn

CHECKPOINT = "musicnn/MSD_musicnn/"
LICENCE = "musicnn-0.1.0.dist-info/LICENSE.md"
REFERENCE_SEED = 20190801
REFERENCE_SHAPE = (3, musicnn.PATCH_FRAMES, musicnn.N_MELS)
TOLERANCE = 1e-4  # absolute and relative, float32 against float32 on a different kernel library
X_NAME, TRAINING_NAME = "model/Placeholder:0", "model/Placeholder_2:0"  # the extractor's x and is_training
POOLED_NAME = "model/concat_2:0"  # concat([max_pool, mean_pool], 2): (batch, 753, 2)
LOGITS_NAME = "model/dense_1/BiasAdd:0"  # the 50 tags' logits; the extractor's sigmoid is outside the graph


def reference_input() -> np.ndarray:
    """The fixed input: seeded mel power, compressed as musicnn does [shape=(3, 187, 96)]: the
    network's own 3-s patch (``musicnn.PATCH_FRAMES``)."""
    rng = np.random.default_rng(REFERENCE_SEED)
    S = rng.gamma(0.5, 0.01, size=REFERENCE_SHAPE) * np.linspace(3, 0.1, musicnn.N_MELS)
    return musicnn.log_mel_input(S)


def extract(wheel: Path, into: Path) -> Path:
    """Unzip the checkpoint; its files are named ``.index`` etc., so give them a prefix ``model``."""
    with zipfile.ZipFile(wheel) as z:
        for suffix in (".index", ".data-00000-of-00001", ".meta"):
            (into / f"model{suffix}").write_bytes(z.read(CHECKPOINT + suffix))
        (into / "LICENSE.md").write_bytes(z.read(LICENCE))
    return into / "model"


def checkpoint_arrays(prefix: Path) -> dict[str, np.ndarray]:
    """The variables of the layers the port keeps (no optimiser slots, no back end)."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    port = [*musicnn.build_musicnn().layers, *musicnn.build_backend().layers]
    wanted = {f"{layer.name}/{k}" for layer in port if layer.weights
              for k in (("gamma", "beta", "moving_mean", "moving_variance") if "batch_norm" in layer.name
                        else ("kernel", "bias"))}
    return {name: reader.get_tensor(name).astype(np.float32) for name in sorted(wanted)}


def run_original(prefix: Path, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pooled activations and tag probabilities of the original TF1 graph on ``x``, in graph mode.

    The ``.meta`` file (TensorFlow 1.12) also holds the training graph, whose recorded output
    shapes TensorFlow 2 rejects: only the forward graph and the saver's restore op are kept.
    """
    import tensorflow as tf
    from tensorflow.core.protobuf import meta_graph_pb2

    meta = meta_graph_pb2.MetaGraphDef()
    meta.ParseFromString(Path(f"{prefix}.meta").read_bytes())
    keep = [POOLED_NAME.split(":")[0], LOGITS_NAME.split(":")[0], meta.saver_def.restore_op_name]
    variables = {n.name for n in meta.graph_def.node if n.op == "VariableV2"}
    keep += [n.name for n in meta.graph_def.node  # each variable with its initialiser and snapshot,
             if n.name in variables or n.name.rpartition("/")[0] in variables]  # which the collection names
    pruned = tf.compat.v1.graph_util.extract_sub_graph(meta.graph_def, keep)
    for node in pruned.node:
        node.attr.pop("_output_shapes", None)
    meta.graph_def.CopyFrom(pruned)
    for name in list(meta.collection_def):
        if name not in ("variables", "trainable_variables"):
            del meta.collection_def[name]
    graph = tf.Graph()
    with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
        saver = tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        saver.restore(sess, str(prefix))
        pooled, logits = sess.run([POOLED_NAME, LOGITS_NAME], feed_dict={X_NAME: x, TRAINING_NAME: False})
    return pooled.reshape(len(x), musicnn.POOLED), 1.0 / (1.0 + np.exp(-logits))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="musicnn-0.1.0-py3-none-any.whl")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent, help="folder to write into")
    args = parser.parse_args(argv)
    if not args.wheel.is_file():
        parser.error(f"no such file: {args.wheel}")
    with tempfile.TemporaryDirectory() as tmp:
        prefix = extract(args.wheel, Path(tmp))
        arrays = checkpoint_arrays(prefix)
        np.savez_compressed(args.out / musicnn.WEIGHTS_FILE, **arrays)  # type: ignore[arg-type]
        shutil.copyfile(Path(tmp) / "LICENSE.md", args.out / "musicnn-LICENSE.md")
        x = reference_input()
        pooled, tags = run_original(prefix, x)
    np.savez_compressed(args.out / musicnn.REFERENCE_FILE, seed=REFERENCE_SEED, pooled=pooled.astype(np.float32),
                        tags=tags.astype(np.float32))
    port, backend = musicnn.build_musicnn(), musicnn.build_backend()
    musicnn.set_weights(port, arrays)
    musicnn.set_weights(backend, arrays)
    got = port.predict_on_batch(x)
    got_tags = backend.predict_on_batch(got)
    print(f"{sum(a.size for a in arrays.values()):,} weights from {len(arrays)} variables; port vs original graph: "
          f"pooled max |diff| {np.abs(got - pooled).max():.2e} (values up to {np.abs(pooled).max():.2f}), "
          f"tags max |diff| {np.abs(got_tags - tags).max():.2e}", file=sys.stderr)
    if not (np.allclose(got, pooled, atol=TOLERANCE, rtol=TOLERANCE)
            and np.allclose(got_tags, tags, atol=TOLERANCE, rtol=TOLERANCE)):
        sys.exit("the Keras port does not reproduce the original graph")


if __name__ == "__main__":
    main()
