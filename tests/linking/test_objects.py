from kemm.data import Box, ObjectAnnotation
from kemm.linking.objects import LabelMap, ObjectLinker, build_label_map, read_vocabulary
from tests.linking.conftest import EX


def test_label_map_whole_label_and_head_word(linker, tmp_path):
    lm = build_label_map(linker, ["apple", "kitchen knife", "baseball bat", "teddy bear"], vocabulary="test")
    assert lm.get("apple").key == EX + "apple" and not lm.get("apple").head_only
    assert lm.get("kitchen knife").key == EX + "knife" and lm.get("kitchen knife").head_only
    assert lm.get("baseball bat").key == EX + "baseball_bat"
    assert lm.get("teddy bear").key is None
    assert lm.coverage == 0.75
    path = tmp_path / "map.json"
    lm.save(path)
    again = LabelMap.load(path)
    assert again.entries == lm.entries and again.vocabulary == "test"


def test_object_linker_uses_map_then_linker(linker):
    lm = LabelMap({"fruit_thing": build_label_map(linker, ["banana"]).get("banana")})
    lm.entries["fruit_thing"].label = "fruit_thing"
    dets = [
        ObjectAnnotation(Box(0, 0, 1, 1), "fruit_thing", score=0.9),
        ObjectAnnotation(Box(0, 0, 2, 2), "knife", score=0.8),
        ObjectAnnotation(Box(0, 0, 3, 3), "zebra", score=0.7),
        # an object that carries its KG key (as the bundled benchmark's categories do)
        ObjectAnnotation(Box(0, 0, 4, 4), "some cat", score=0.6, entity=EX + "freezer"),
    ]
    links = ObjectLinker(linker, lm).link(dets)
    assert [(lk.key, lk.reason) for lk in links] == [
        (EX + "banana", "label-map"),
        (EX + "knife", "exact"),
        (None, None),
        (EX + "freezer", "dataset"),
    ]
    assert links[0].to_dict()["box_xywh"] == [0, 0, 1, 1] and links[0].to_dict()["score"] == 0.9


def test_read_vocabulary(tmp_path):
    (tmp_path / "v.txt").write_text("# comment\napple\n\nknife\n")
    assert read_vocabulary(tmp_path / "v.txt") == ["apple", "knife"]
    (tmp_path / "v.json").write_text('{"categories": [{"id": 1, "name": "cup"}]}')
    assert read_vocabulary(tmp_path / "v.json") == ["cup"]
