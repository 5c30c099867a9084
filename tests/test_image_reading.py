"""The one image reader and the one mask reader of every dataset: any file name, today's decoding,
partly decodable files refused with their name, masks that are class indices; hidden entries of a
dataset folder are neither classes nor samples."""
import os
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import training_opts
from data.datasets import ADE20KDataset, ImageNetDataset, read_image, read_mask
from data.datasets.image_io import shown
from utils.errors import DataError

BAD_NAME = b"bad\xff\xfe.png"  # not UTF-8: Python names it with surrogates, as os.listdir does


def photo(height=40, width=56):
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([x * 4 % 256, y * 6 % 256, (x + y) * 3 % 256]).astype(np.uint8)


def jpeg_bytes(image, quality=90):
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return encoded.tobytes()


def test_decoding_is_opencvs_for_every_format(tmp_path):
    bgr = photo()
    files = {"gray.png": bgr[..., 0], "rgba.png": np.dstack([bgr, np.full(bgr.shape[:2], 9, np.uint8)]),
             "deep.png": bgr.astype(np.uint16) * 257, "photo.jpg": bgr, "plain.bmp": bgr, "page.tiff": bgr,
             "web.webp": bgr}
    for name, image in files.items():
        assert cv2.imwrite(str(tmp_path / name), image)
        assert np.array_equal(read_image(tmp_path / name), cv2.imread(str(tmp_path / name), cv2.IMREAD_COLOR)), name
    assert np.array_equal(read_image(tmp_path / "gray.png"), np.dstack([bgr[..., 0]] * 3))
    assert np.array_equal(read_image(tmp_path / "rgba.png"), bgr)


def test_exif_orientation_is_applied(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # the camera was turned: show the picture rotated 90 degrees clockwise
    Image.fromarray(photo()[..., ::-1].copy()).save(tmp_path / "turned.jpg", exif=exif, quality=95)
    image = read_image(tmp_path / "turned.jpg")
    assert image.shape == (56, 40, 3)
    assert np.array_equal(image, cv2.imread(str(tmp_path / "turned.jpg"), cv2.IMREAD_COLOR))
    upright = cv2.imread(str(tmp_path / "turned.jpg"), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    assert np.array_equal(image, cv2.rotate(upright, cv2.ROTATE_90_CLOCKWISE))


def test_a_file_name_that_is_not_utf8_is_read_and_named_with_its_bytes_escaped(tmp_path):
    folder = os.fsencode(tmp_path)
    with open(os.path.join(folder, BAD_NAME), "wb") as handle:
        handle.write(cv2.imencode(".png", photo())[1].tobytes())
    as_text = os.path.join(str(tmp_path), os.fsdecode(BAD_NAME))
    assert "\udcff" in as_text  # what listing the folder gives
    for path in (as_text, os.path.join(folder, BAD_NAME)):
        assert np.array_equal(read_image(path), photo())
    with open(os.path.join(folder, b"worse\xff.jpg"), "wb") as handle:
        handle.write(b"not an image")
    with pytest.raises(DataError) as caught:
        read_image(os.path.join(str(tmp_path), os.fsdecode(b"worse\xff.jpg")))
    assert str(caught.value) == f"cannot read image {tmp_path}/worse\\xff.jpg: not a readable image"
    assert shown(b"a\xffb") == shown("a\udcffb") == "a\\xffb"


def test_truncated_jpeg_and_png_are_unreadable_and_named(tmp_path, capfd):
    data = jpeg_bytes(photo(120, 160))
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    (tmp_path / "patched.jpg").write_bytes(data[:len(data) // 2] + b"\xff\xd9")  # cut, then an end marker
    ok, png = cv2.imencode(".png", photo(120, 160))
    (tmp_path / "cut.png").write_bytes(png.tobytes()[:len(png) // 2])
    expected = {"cut.jpg": "not a readable image (its JPEG data is truncated or corrupt)",
                "patched.jpg": "it decodes only partly, the file is truncated or corrupt (Corrupt JPEG data: "
                               "premature end of data segment)",
                "cut.png": "not a readable image (PNG input buffer is incomplete)"}  # libpng's words
    for name, reason in expected.items():
        with pytest.raises(DataError) as caught:
            read_image(tmp_path / name)
        assert str(caught.value) == f"cannot read image {tmp_path / name}: {reason}"
    assert capfd.readouterr().err == ""  # the decoders' own lines, without the file name, are not printed


def test_a_metadata_notice_keeps_the_image_and_names_the_file(tmp_path, capfd):
    png = cv2.imencode(".png", photo())[1].tobytes()
    header_end = 8 + 25  # signature and IHDR chunk
    # an sRGB chunk whose rendering intent (9) does not exist: libpng warns and ignores it
    bad_srgb = b"\x00\x00\x00\x01sRGB\x09" + zlib.crc32(b"sRGB\x09").to_bytes(4, "big")
    (tmp_path / "profiled.png").write_bytes(png[:header_end] + bad_srgb + png[header_end:])
    assert np.array_equal(read_image(tmp_path / "profiled.png"), photo())
    assert capfd.readouterr().err == f"{tmp_path / 'profiled.png'}: libpng warning: sRGB: invalid\n"


def test_missing_empty_and_folder_paths(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    for name, reason in (("none.jpg", "file not found"), ("empty.jpg", "the file is empty"), ("", "it is a folder")):
        with pytest.raises(DataError, match=f"cannot read image {tmp_path / name}: {reason}"):
            read_image(tmp_path / name)


def save_mask(path, values, mode):
    picture = Image.fromarray(values) if mode == "I;16" else Image.fromarray(values, mode=mode)
    assert picture.mode == mode
    picture.save(path)
    return path


def test_masks_are_class_indices_and_colours_are_refused(tmp_path):
    labels = np.array([[0, 4, 8], [15, 19, 255]], np.uint8)
    assert np.array_equal(read_mask(save_mask(tmp_path / "grey.png", labels, "L")), labels)
    assert np.array_equal(read_mask(save_mask(tmp_path / "deep.png", labels.astype(np.uint16), "I;16")), labels)
    too_deep = save_mask(tmp_path / "too_deep.png", np.array([[0, 300]], np.uint16), "I;16")
    with pytest.raises(DataError, match=f"cannot use mask {too_deep}: it holds values up to 300; a mask must hold"):
        read_mask(too_deep)
    # VOC's colours for boat (0, 0, 128) and cat (64, 0, 0): their brightness would be person and train
    colours = np.array([[[0, 0, 128], [64, 0, 0]]], np.uint8)
    for mode, values in (("RGB", colours), ("RGBA", np.dstack([colours, np.full((1, 2), 255, np.uint8)]))):
        path = save_mask(tmp_path / f"{mode}.png", values, mode)
        with pytest.raises(DataError) as caught:
            read_mask(path)
        assert str(caught.value) == (f"cannot use mask {path}: an image of mode {mode}; a mask must hold one class "
                                     "index per pixel: a single-channel 8-bit image (grey or palette, modes L and P) "
                                     "or a 16-bit one whose values fit in 0..255, not colours")
    big = save_mask(tmp_path / "big.png", np.random.default_rng(0).integers(0, 21, (60, 80), dtype=np.uint8), "L")
    (tmp_path / "cut.png").write_bytes(big.read_bytes()[:len(big.read_bytes()) // 2])
    with pytest.raises(DataError, match="cannot read mask .*cut.png: image file is truncated"):
        read_mask(tmp_path / "cut.png")


def test_hidden_folders_and_files_are_neither_classes_nor_samples(tmp_path):
    for folder in ("cat", "dog", ".ipynb_checkpoints", "dog/.thumbnails"):
        (tmp_path / folder).mkdir()
        cv2.imwrite(str(tmp_path / folder / "0.png"), photo())
    (tmp_path / "cat" / "._0.png").write_bytes(b"\x00\x05\x16\x07 resource fork")
    dataset = ImageNetDataset(training_opts(["--dataset.root-train", str(tmp_path)]), is_training=True)
    assert dataset.classes == ["cat", "dog"]
    assert dataset.samples == [(str(tmp_path / "cat" / "0.png"), 0), (str(tmp_path / "dog" / "0.png"), 1)]


def test_ade20k_ignores_hidden_files(tmp_path):
    for split in ("images", "annotations"):
        (tmp_path / split / "validation").mkdir(parents=True)
    cv2.imwrite(str(tmp_path / "images" / "validation" / "a.jpg"), photo())
    save_mask(tmp_path / "annotations" / "validation" / "a.png", np.ones((40, 56), np.uint8), "L")
    (tmp_path / "images" / "validation" / "._a.jpg").write_bytes(b"\x00\x05\x16\x07")
    opts = training_opts(["--common.config-file", "config/segmentation/demo/upernet_parcnet_digits.yaml",
                          "--dataset.root-train", "", "--dataset.root-val", str(tmp_path)])
    assert [image.name for image, _ in ADE20KDataset(opts, is_training=False).pairs] == ["a.jpg"]
