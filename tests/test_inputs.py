"""Bad input gets a clear error that names the problem and the fix."""
import pytest
import torch

from sdd_nb.core import check_images, load_image, make_run_dir, get_device, Config
from sdd_nb.imagefolder import ImageFolder
from sdd_nb.toyfaces import parse_prompt, edit, toy_face, render, sample_spec, ToyFaces


def test_corrupt_and_missing_images(tmp_path):
    bad = tmp_path / "bad.jpg"; bad.write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ValueError, match="corrupt or not an image"): load_image(bad)
    with pytest.raises(FileNotFoundError, match="image not found"): load_image(tmp_path / "nope.png")


def test_image_convention_errors():
    with pytest.raises(ValueError, match=r"\[-1, 1\]"): check_images(torch.rand(1, 3, 8, 8) * 255)
    with pytest.raises(ValueError, match="64x64"): check_images(torch.zeros(1, 3, 32, 32), size=64)
    with pytest.raises(TypeError, match="float"): check_images(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match="NaN"): check_images(torch.full((1, 3, 8, 8), float("inf")))


def test_prompt_errors():
    with pytest.raises(ValueError, match="empty"): parse_prompt("")
    with pytest.raises(KeyError, match="Known prompts:.*angry"): parse_prompt("a vampire")


def test_toy_world_errors():
    f = toy_face(0, 0)
    with pytest.raises(KeyError, match="attributes are"): edit(f, mood="angry")
    with pytest.raises(ValueError, match="values are"): edit(f, expression="sleepy")
    with pytest.raises(ValueError, match="needs an attribute"): edit(f)
    with pytest.raises(ValueError, match="between 8 and 256"): render(sample_spec(0, 0), size=4)
    with pytest.raises(ValueError, match="holds"): ToyFaces("test", n=10**9)


def test_toy_domain_errors(tmp_path):
    from sdd_nb.domains import domain, domain_of_prompt
    from sdd_nb.distill import DistillConfig, train
    cats, cars = domain("cats"), domain("cars")
    with pytest.raises(ValueError, match="domains are"): domain("dogs")
    with pytest.raises(KeyError, match="unknown toy-world prompt.*no toy domain knows it.*black fur"): domain_of_prompt("a purple dragon")
    with pytest.raises(KeyError, match="unknown toy-cars prompt.*Known prompts"): domain_of_prompt("black fur", "cars")
    with pytest.raises(ValueError, match="empty"): domain_of_prompt("  ")
    with pytest.raises(KeyError, match="attributes are"): cats.edit(cats.toy(0, 0), wheels="chrome")
    with pytest.raises(ValueError, match="values are"): cars.sample_spec(0, 0).replace(color="purple")
    with pytest.raises(ValueError, match="another domain"): cats.render([cars.sample_spec(0, 0)])
    with pytest.raises(ValueError, match="holds"): cars.dataset("test", n=10**9)
    # a cat prompt picks the toy cats and their models; a domain that does not know a prompt says so, before anything loads
    c = DistillConfig(prompt="black fur").check()
    assert (c.data, c.model, c.prompts) == ("toycats", "cats-cars/tiny-sd", "caption")
    with pytest.raises(ValueError, match="know"):
        train(DistillConfig(prompt="black fur", data="toycars", prompts="caption", steps=1), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"): ImageFolder(tmp_path / "celeba")
    with pytest.raises(ValueError, match="no images"): ImageFolder(tmp_path)
    (tmp_path / "x.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="x.png"), pytest.raises(ValueError, match="no readable images"):
        ImageFolder(tmp_path)


def test_run_folder_is_never_overwritten(tmp_path):
    run = make_run_dir(tmp_path / "run"); (run / "weights.safetensors").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="nothing was overwritten"): make_run_dir(run)
    assert (run / "weights.safetensors").read_bytes() == b"precious"


def test_device_and_config_errors():
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="device='cpu'"): get_device("cuda")
    with pytest.raises(FileNotFoundError, match="config file not found"): Config.from_yaml("/nonexistent.yaml")


def test_guidance_and_baselines_name_bad_inputs():
    from sdd_nb.guidance import Supervisor
    from sdd_nb.baselines import DDIB
    from sdd_nb.metrics import fid
    from sdd_nb.models import build_tiny_sd, dummy_sd_config, sd_pipeline
    with pytest.raises(FileNotFoundError, match="not found"):
        Supervisor.from_pretrained("./no/such/model")
    sup = Supervisor.from_pipeline(sd_pipeline(build_tiny_sd(dummy_sd_config())))
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with pytest.raises(ValueError, match="empty"):
        sup.image_grads(x, " ", [100])
    with pytest.raises(ValueError, match=r"outside the scheduler's range \[0, 999\]"):
        sup.image_grads(x, "smiling", [1000])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        sup.image_grads(x * 2, "smiling", [100])
    with pytest.raises(ValueError, match="strength"):
        DDIB(sd_pipeline(build_tiny_sd(dummy_sd_config()))).edit(x, "smiling", strength=1.5)
    with pytest.raises(ValueError, match="at least 2 images"):
        fid(x, x)
