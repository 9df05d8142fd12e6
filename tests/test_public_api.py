"""The public namespace: at most 30 names, and every name it used to export still works."""

import warnings

import pytest

import kerasprune


def test_the_top_level_lists_what_users_call_or_subclass():
    assert len(kerasprune.__all__) <= 30
    assert sorted(kerasprune.__all__) == sorted(set(kerasprune.__all__))
    for name in kerasprune.__all__:
        assert getattr(kerasprune, name) is not None


@pytest.mark.parametrize("name", sorted(kerasprune._MOVED))
def test_a_name_moved_out_of_the_top_level_warns_and_names_its_new_home(name):
    module, attribute = kerasprune._MOVED[name].split(":")
    with pytest.warns(DeprecationWarning, match=f"use `{module}.{attribute}`") as record:
        value = getattr(kerasprune, name)
    assert value is getattr(__import__(module, fromlist=[attribute]), attribute)
    assert record[0].filename == __file__  # the warning names the line that used it


def test_an_unknown_name_is_still_an_attribute_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError, match="has no attribute 'nothing_here'"):
            kerasprune.nothing_here  # noqa: B018


def test_the_old_argument_name_of_criterion_data_still_works_with_a_warning():
    data = kerasprune.CriterionData([[1.0]], [[0.0]])
    with pytest.warns(DeprecationWarning, match="`importance=` is deprecated .* use `data=`"):
        callback = kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                              finetune_epochs=0, importance=data)
    assert callback.data is data
    with pytest.raises(ValueError, match="give `data=` only"):
        kerasprune.PruningCallback(0.5, stabilization_epochs=0, pruning_epochs=1,
                                   finetune_epochs=0, importance=data, data=data)
