"""user_stacklevel: a warning raised deep in kerasprune names the user's line."""

import warnings

import kerasprune.core.caller as caller


def test_a_warning_points_at_the_first_line_outside_kerasprune():
    assert caller.user_stacklevel() == 1  # called from here: this line is the user's
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        exec(compile("import warnings; warnings.warn('x', stacklevel=level())",
                     caller.__file__, "exec"), {"level": caller.user_stacklevel})
    assert record[0].filename == __file__  # the inner frame counts as kerasprune's
