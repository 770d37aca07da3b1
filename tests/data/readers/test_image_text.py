import gzip
import io
import shutil
import tarfile

import pytest

from kemm.data import ImageTextPair, read_dataset
from kemm.data.readers.image_text import shard_paths, split_key
from kemm.errors import InputError


@pytest.fixture
def it(datasets_dir):
    return datasets_dir / "image_text"


def test_folder(it):
    pairs = list(read_dataset("image-text-folder", it / "folder", check_images="decode"))
    assert all(isinstance(p, ImageTextPair) for p in pairs)
    assert [(p.id, p.text) for p in pairs] == [
        ("cat", "a white cat sitting on a mat"),
        ("pets/dog", "a brown dog in the park"),
    ]
    assert pairs[1].image.path == it / "folder/pets/dog.jpg" and pairs[1].image.open().size == (4, 4)


def test_folder_bad_records(it, datasets_dir, tmp_path):
    folder = tmp_path / "folder"
    shutil.copytree(it / "folder", folder)
    (folder / "pets/dog.txt").unlink()  # image without caption
    (folder / "bird.txt").write_text("a bird")  # caption without image
    shutil.copy(datasets_dir / "broken/truncated.jpg", folder / "zebra.jpg")
    (folder / "zebra.txt").write_text("a zebra")
    with pytest.raises(InputError, match="caption without an image") as e:
        list(read_dataset("folder", folder))
    assert e.value.path == str(folder / "bird.txt")
    stream = read_dataset("folder", folder, on_error="skip")
    assert [p.id for p in stream] == ["cat", "zebra"]  # "exists" does not decode
    assert [(s[0].rsplit("/", 1)[-1], s[2].split(":")[0]) for s in stream.skipped] == [
        ("bird.txt", "caption without an image"),
        ("dog.jpg", "image without a caption"),
    ]
    stream = read_dataset("folder", folder, on_error="skip", check_images="decode")
    assert [p.id for p in stream] == ["cat"]
    assert any("zebra.jpg: cannot decode image" in s[2] for s in stream.skipped)
    with pytest.raises(InputError, match="not a directory"):
        list(read_dataset("folder", folder / "cat.png"))


def test_manifest(it):
    pairs = list(read_dataset("image-text-jsonl", it / "manifest.jsonl", check_images="decode"))
    assert [(p.id, p.image.path) for p in pairs] == [
        ("cat-1", it / "folder/cat.png"),
        ("dog-1", it / "folder/pets/dog.jpg"),
    ]
    assert pairs[0].extra == {"license": "CC0"}


def test_manifest_custom_keys_and_bad_lines(it, tmp_path):
    m = tmp_path / "pairs.jsonl"
    m.write_text(
        '{"file": "cat.png", "caption": " a cat "}\n'
        '{"file": "missing.png", "caption": "gone"}\n'
        "this is not json\n"
        '{"file": "cat.png"}\n'
    )
    opts = {"image_key": "file", "text_key": "caption", "images_dir": it / "folder"}
    with pytest.raises(InputError, match="example 2: image not found: .*missing.png") as e:
        list(read_dataset("jsonl-manifest", m, **opts))
    assert (e.value.path, e.value.line) == (str(m), 2)
    stream = read_dataset("jsonl-manifest", m, on_error="skip", **opts)
    pairs = list(stream)
    assert [(p.id, p.text) for p in pairs] == [("1", "a cat")]
    assert [(line, reason.split(": ", 1)[1][:20]) for _, line, reason, _ in stream.skipped] == [
        (2, "image not found: " + str(it / "folder/missing.png")[:3]),
        (3, "Expecting value (col"),
        (4, "missing field 'capti"),
    ]


def test_webdataset_patterns(it):
    one = list(read_dataset("webdataset", it / "shards/shard-000000.tar"))
    assert [(p.id, p.text) for p in one] == [("000000", "a red square"), ("000001", "a green square")]
    both = list(read_dataset("wds", str(it / "shards/shard-{000000..000001}.tar"), check_images="decode"))
    assert [p.text for p in both] == ["a red square", "a green square", "a blue square", "a yellow square"]
    assert [p.text for p in read_dataset("tar-shards", it / "shards")] == [p.text for p in both]
    img = both[1].image
    assert (img.path, img.member, img.data is not None) == (
        it / "shards/shard-000000.tar",
        "000001.png",
        True,
    )
    assert img.open().getpixel((1, 1)) == (0, 255, 0)
    assert both[3].extra == {"shard": "shard-000001.tar"}


def _shard(path, members, compress=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buf.getvalue()) if compress else buf.getvalue())


def test_webdataset_bad_samples(it, datasets_dir, tmp_path):
    jpg = (datasets_dir / "coco/val2017/000000000139.jpg").read_bytes()
    _shard(
        tmp_path / "shard-000000.tar",
        [
            ("a/x1.jpg", jpg),
            ("a/x1.txt", b"ok one"),
            ("a/x2.jpg", jpg),  # no caption
            ("a/x3.txt", b"no image"),  # no image
            ("a/x4.jpg", jpg),
            ("a/x4.json", b"{broken"),  # caption file is not JSON
            ("a/x5.jpg", (datasets_dir / "broken/truncated.jpg").read_bytes()),
            ("a/x5.txt", b"truncated"),
            ("a/x6.seg.png", b"not read as the image"),
            ("a/x6.jpg", jpg),
            ("a/x6.json", b'{"caption": "ok six"}'),
        ],
    )
    with pytest.raises(InputError, match="sample a/x2: no caption") as e:
        list(read_dataset("webdataset", tmp_path / "shard-000000.tar"))
    assert e.value.path == str(tmp_path / "shard-000000.tar")
    stream = read_dataset(
        "webdataset", tmp_path / "shard-{000000..000001}.tar", on_error="skip", check_images="decode"
    )
    assert [(p.id, p.text, p.image.member) for p in stream] == [
        ("a/x1", "ok one", "a/x1.jpg"),
        ("a/x6", "ok six", "a/x6.jpg"),
    ]
    reasons = [s[2] for s in stream.skipped]
    assert [r.split(":")[0] for r in reasons[:4]] == [
        "sample a/x2",
        "sample a/x3",
        "sample a/x4",
        "sample a/x5",
    ]
    assert "cannot decode image" in reasons[3] and reasons[4] == "shard not found"


def test_webdataset_gzip_and_truncated_shard(datasets_dir, tmp_path):
    png = (datasets_dir / "image_text/folder/cat.png").read_bytes()
    _shard(tmp_path / "s.tar.gz", [("k.png", png), ("k.txt", b"a cat")], compress=True)
    assert [p.text for p in read_dataset("webdataset", tmp_path / "s.tar.gz")] == ["a cat"]
    _shard(tmp_path / "t.tar", [("k.png", png), ("k.txt", b"a cat"), ("m.png", png * 40), ("m.txt", b"x")])
    data = (tmp_path / "t.tar").read_bytes()
    (tmp_path / "t.tar").write_bytes(data[:2000])  # cut inside m.png
    with pytest.raises(InputError, match="cannot read the shard"):
        list(read_dataset("webdataset", tmp_path / "t.tar"))


def test_split_key_and_shard_paths(it, tmp_path):
    assert split_key("a/b/x.seg.png") == ("a/b/x", "seg.png")
    assert split_key("000001.JPG") == ("000001", "jpg")
    assert shard_paths(it / "shards") == [it / "shards/shard-000000.tar", it / "shards/shard-000001.tar"]
    with pytest.raises(InputError, match="no .tar shards"):
        shard_paths(tmp_path)


def test_webdataset_members_outside_the_shard_are_read_in_memory_only(datasets_dir, tmp_path, monkeypatch):
    """Member names with ``..`` or an absolute path never touch the disk; links are not followed."""
    from kemm.data.examples import ImageRef

    jpg = (datasets_dir / "coco/val2017/000000000139.jpg").read_bytes()
    shard = tmp_path / "shards" / "shard-000000.tar"
    shard.parent.mkdir()
    absolute = f"{tmp_path}/abs/evil"
    _shard(
        shard,
        [
            ("../../escape.jpg", jpg),
            ("../../escape.txt", b"dot dot"),
            (f"{absolute}.jpg", jpg),
            (f"{absolute}.txt", b"absolute"),
        ],
    )
    buf = io.BytesIO(shard.read_bytes())  # links: a symlink and a hard link to files outside
    with tarfile.open(fileobj=buf, mode="a") as tar:
        for name, kind, target in (
            ("link.jpg", tarfile.SYMTYPE, "/etc/passwd"),
            ("hard.jpg", tarfile.LNKTYPE, "../../escape.jpg"),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
        for name in ("link.txt", "hard.txt"):
            info = tarfile.TarInfo(name)
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    shard.write_bytes(buf.getvalue())
    work = tmp_path / "work" / "deep"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # a relative extraction would land in tmp_path
    before = sorted(tmp_path.rglob("*"))

    stream = read_dataset("webdataset", shard, on_error="skip", check_images="decode")
    pairs = list(stream)
    assert [(p.id, p.text) for p in pairs] == [("../../escape", "dot dot"), (absolute, "absolute")]
    assert all(p.image.data == jpg for p in pairs)  # the bytes, in memory
    assert [s[2].split(":")[0] for s in stream.skipped] == ["sample link", "sample hard"]  # no image
    assert pairs[1].image.open().size == ImageRef(data=jpg).open().size
    again = ImageRef(path=shard, member="../../escape.jpg")  # read back from the shard by name
    assert again.exists() and again.read_bytes() == jpg
    assert sorted(tmp_path.rglob("*")) == before  # nothing was written anywhere
    assert not (tmp_path / "abs").exists() and not (tmp_path / "escape.jpg").exists()
