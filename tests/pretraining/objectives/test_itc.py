import math

import torch
import torch.nn.functional as F

from kemm.pretraining.objectives.itc import contrastive_loss, same_image_targets
from tests.pretraining.cases import ObjectiveTestCase, run_objective


class TestITC(ObjectiveTestCase):
    name = "itc"


def test_targets_mask_by_image_id_not_only_the_diagonal():
    t = same_image_targets(torch.tensor([7, 7, 3]), torch.tensor([7, 7, 3]))
    assert torch.allclose(t, torch.tensor([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]))


def test_two_captions_of_one_image_are_not_negatives():
    img = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), dim=-1)
    # captions 0 and 1 both describe image 0 (rows 0 and 1 are the same image)
    txt = img.clone()
    same = contrastive_loss(img, txt, torch.tensor([0, 0, 1]), torch.tensor(0.05))[0]
    diag = contrastive_loss(img, txt, torch.tensor([0, 1, 2]), torch.tensor(0.05))[0]
    # with the image-id mask the duplicate is a positive: the loss reaches its lower bound, the
    # entropy of the targets (2/3 ln 2); diagonal targets (bound 0) cannot be met by identical rows
    assert abs(float(same) - 2 / 3 * math.log(2)) < 1e-3
    assert float(diag) > 0.4


def test_loss_lower_for_aligned_pairs():
    g = torch.Generator().manual_seed(0)
    x = F.normalize(torch.randn(6, 8, generator=g), dim=-1)
    ids = torch.arange(6)
    aligned = contrastive_loss(x, x, ids, torch.tensor(0.1))[0]
    shuffled = contrastive_loss(x, x.roll(1, 0), ids, torch.tensor(0.1))[0]
    assert aligned < shuffled


def test_temperature_clamped_as_albef():
    obj, _, _ = run_objective("itc", {"temperature": 5.0})
    assert abs(float(obj.temp) - 0.5) < 1e-6
    obj, _, _ = run_objective("itc", {"temperature": 1e-5})
    assert abs(float(obj.temp) - 0.001) < 1e-9


class TestITCMeanPooling(ObjectiveTestCase):
    name = "itc"
    options = {"pooling": "mean"}
