import argparse

import pytest

from utils.errors import ConfigError
from utils.registry import Registry


def test_register_get_and_aliases():
    registry = Registry("widget", option="model.widget")

    @registry.register("round", "circle")
    class Round:
        pass

    assert registry.get("round") is Round and registry.get("circle") is Round
    assert "round" in registry and registry.names() == ["round", "circle"]


def test_duplicate_name_is_refused():
    registry = Registry("widget")
    registry.register("a")(object)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("a")(int)


def test_unknown_name_lists_choices_and_suggests():
    registry = Registry("widget", option="model.widget")
    registry.register("edgeformer")(object)
    registry.register("mobilevit")(object)
    with pytest.raises(ConfigError, match=r"unknown widget 'edgeformr' \(option model.widget\).*"
                                          r"did you mean 'edgeformer'"):
        registry.get("edgeformr")


def test_each_class_adds_its_own_arguments_once():
    registry = Registry("widget")

    class Base:
        @classmethod
        def add_arguments(cls, parser):
            parser.add_argument("--widget.base")
            return parser

    class Child(Base):  # inherits add_arguments: must not add --widget.base a second time
        pass

    class Template:  # not registered: its subclasses declare options from their attributes
        name = ""

        @classmethod
        def add_arguments(cls, parser):
            parser.add_argument(f"--widget.{cls.name}")
            return parser

    class Left(Template):
        name = "left"

    class Right(Template):
        name = "right"

    registry.register("base", "alias")(Base)
    registry.register("child")(Child)
    registry.register("left")(Left)
    registry.register("right")(Right)
    parser = argparse.ArgumentParser()
    registry.add_arguments(parser)
    parsed = vars(parser.parse_args(["--widget.base", "1", "--widget.left", "2", "--widget.right", "3"]))
    assert parsed == {"widget.base": "1", "widget.left": "2", "widget.right": "3"}
