import pytest

from shop.fields import Field, describe, reject, require_field


def test_concatenated_message_matches():
    with pytest.raises(ValueError, match="must be an instance of shop.fields.Field."):
        require_field(1)


def test_escaped_pattern_matches():
    with pytest.raises(ValueError, match=r"instance of shop\.fields\.Field"):
        require_field(2)


def test_whole_literal_message_matches():
    with pytest.raises(TypeError, match="^shop.fields.Field$"):
        reject(3)


def test_message_made_at_run_time():
    assert describe(Field("x")) == "a shop.fields.Field named x"


def test_other_module_is_left_alone():
    from shop.fieldsets import DEFAULT

    assert DEFAULT[0].name == "name"
