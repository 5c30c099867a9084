"""Installing the project: pinned dependencies, console commands, and an editable install."""
import importlib
import os
import site
import subprocess
import sys
import tomllib
import venv


from conftest import ROOT

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_lines(name="requirements.txt"):
    lines = (ROOT / name).read_text().splitlines()
    return sorted(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def test_pyproject_pins_the_requirements():
    project = PYPROJECT["project"]
    extras = project["optional-dependencies"]
    pinned = project["dependencies"] + [d for name, extra in extras.items() if name != "deploy" for d in extra]
    assert sorted(pinned) == requirement_lines()
    assert sorted(extras["deploy"]) == requirement_lines("requirements-deploy.txt")  # the optional packages
    assert all("==" in d for d in pinned + extras["deploy"])


def test_every_entry_point_script_has_a_console_command():
    scripts = PYPROJECT["project"]["scripts"]
    modules = {target.split(":")[0] for target in scripts.values()}
    entry_scripts = {p.stem for p in [*ROOT.glob("main_*.py"), *ROOT.glob("eval_*.py")]}
    assert entry_scripts <= modules
    assert set(PYPROJECT["tool"]["setuptools"]["py-modules"]) == entry_scripts | {"hubconf"}
    for command, target in scripts.items():
        module, function = target.split(":")
        assert callable(getattr(importlib.import_module(module), function)), command


def test_the_packages_and_configs_are_included():
    from setuptools import find_namespace_packages

    found = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    packages = set(find_namespace_packages(str(ROOT), include=found["include"], exclude=found["exclude"]))
    tops = [d for d in ROOT.iterdir() if (d / "__init__.py").is_file() and d.name != "tests"]
    sources = {p.parent.relative_to(ROOT).as_posix().replace("/", ".") for d in tops for p in d.rglob("__init__.py")}
    assert {"cvnets", "data", "engine", "parcnet"} <= {d.name for d in tops} and sources <= packages
    configs = {p.parent.relative_to(ROOT).as_posix().replace("/", ".") for p in (ROOT / "config").rglob("*.yaml")}
    assert configs <= packages and "*.yaml" in PYPROJECT["tool"]["setuptools"]["package-data"]["*"]


def test_editable_install_in_a_fresh_environment(tmp_path):
    """``pip install -e .`` into a new virtual environment (torch and the other dependencies are
    seen from this one, not downloaded), then the console commands and the API work from elsewhere."""
    env_dir = tmp_path / "env"
    venv.create(env_dir, with_pip=True)
    lib = next((env_dir / "lib").glob("python*")) / "site-packages"
    for stale in [*lib.glob("setuptools*"), *lib.glob("pkg_resources"), *lib.glob("_distutils_hack"),
                  *lib.glob("distutils-precedence.pth")]:  # the bundled setuptools cannot build wheels
        subprocess.run(["rm", "-rf", str(stale)], check=True)
    (lib / "shared.pth").write_text(site.getsitepackages()[0] + "\n")
    python, bindir = env_dir / "bin" / "python", env_dir / "bin"
    environment = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation",
                    "-e", str(ROOT)], check=True, cwd=tmp_path, env=environment, timeout=120)
    help_text = subprocess.run([str(bindir / "parcnet-train"), "--help"], cwd=tmp_path, env=environment,
                               capture_output=True, text=True, timeout=120, check=True).stdout
    assert "--common.config-file" in help_text and "--model.classification.name" in help_text
    built = subprocess.run([str(python), "-c", "import parcnet; m = parcnet.create_model('parcnet_xs'); "
                            "print(sum(p.numel() for p in m.parameters()))"],
                           cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120, check=True)
    assert built.stdout.split()[-1] == "2185384"
    for command in PYPROJECT["project"]["scripts"]:
        assert (bindir / command).is_file()


def test_an_installed_copy_finds_its_configs(tmp_path):
    """A regular (not editable) install of a copy of the sources: the configs come with the
    packages, and a model builds by name from another folder."""
    import shutil

    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", *PYPROJECT["tool"]["setuptools"]["py-modules"]):
        shutil.copy2(ROOT / (name if "." in name else f"{name}.py"), source)
    for folder in PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"]:
        shutil.copytree(ROOT / folder.rstrip("*"), source / folder.rstrip("*"),
                        ignore=shutil.ignore_patterns("__pycache__", "generated"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", "--no-build-isolation",
                    "--target", str(tmp_path / "site"), str(source)], check=True, cwd=tmp_path, timeout=120)
    assert (tmp_path / "site" / "config" / "classification" / "edgeformer" / "edgeformer_s.yaml").is_file()
    shutil.rmtree(source)
    environment = dict(os.environ, PYTHONPATH=str(tmp_path / "site"))
    code = ("import parcnet, utils.config_file as c; m = parcnet.create_model('mobilevit_xs'); "
            "print(c.CONFIG_DIR, sum(p.numel() for p in m.parameters()))")
    built = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environment, capture_output=True,
                           text=True, timeout=120, check=True)
    assert built.stdout.split() == [str(tmp_path / "site" / "config"), "2317848"]
