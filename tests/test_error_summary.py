"""error_summary: short, path-free exception text. No TensorFlow needed: the messages
below are shaped like the ones TensorFlow 2.21 builds (checked against real ones)."""

from helpers.error_summary import error_summary

TF_MESSAGE = """{{function_node __wrapped__IteratorGetNext_output_types_1_device_/job:localhost/replica:0/task:0/device:CPU:0}} TypeError: `generator` yielded an element of shape (4,) where an element of shape (3,) was expected.
Traceback (most recent call last):

  File "/home/alice/.venv/lib/python3.11/site-packages/tensorflow/python/ops/script_ops.py", line 269, in __call__
    ret = func(*args)
          ^^^^^^^^^^^

  File "/home/alice/.venv/lib/python3.11/site-packages/tensorflow/python/data/ops/from_generator_op.py", line 235, in generator_py_func
    raise TypeError(

TypeError: `generator` yielded an element of shape (4,) where an element of shape (3,) was expected.


\t [[{{node PyFunc}}]] [Op:IteratorGetNext] name: """  # noqa: E501

CHAINED = """TypeError: `generator` yielded an element that could not be converted to the dtype.
Traceback (most recent call last):

  File "/opt/py/site-packages/tensorflow/python/ops/script_ops.py", line 228, in _convert
    result = numpy_compat.np_asarray(value, dtype=dtype, order="C")

ValueError: could not convert string to float: np.str_('a')


The above exception was the direct cause of the following exception:


Traceback (most recent call last):

  File "/opt/py/site-packages/tensorflow/python/data/ops/from_generator_op.py", line 218, in f
    raise TypeError(

TypeError: `generator` yielded an element that could not be converted to the dtype.
"""

DEFINED_HERE = """TypeError: <tf.Tensor 'args_0:0'> is out of scope and cannot be used here.
Please see https://www.tensorflow.org/guide/function#all_outputs for more information.

<tf.Tensor 'args_0:0'> was defined here:
    File "/work/x/notebook.py", line 16, in <module>
    File "/work/x/site-packages/tensorflow/python/data/ops/dataset_ops.py", line 2534, in f

The tensor <tf.Tensor 'args_0:0'> cannot be accessed from here."""


class InvalidArgumentError(Exception):
    """Stands in for tf.errors.InvalidArgumentError: the text lives in ``.message``."""

    def __init__(self, message: str) -> None:
        super().__init__(None, None, message)
        self.message = message


def test_plain_exception_is_type_and_message():
    assert error_summary(ValueError("batch_size must be >= 1")) == (
        "ValueError: batch_size must be >= 1"
    )
    assert error_summary(ValueError()) == "ValueError"


def test_embedded_traceback_node_names_and_op_suffix_are_dropped():
    text = error_summary(InvalidArgumentError(TF_MESSAGE))
    assert text == (
        "InvalidArgumentError: TypeError: `generator` yielded an element of shape (4,) "
        "where an element of shape (3,) was expected."
    )


def test_chained_cause_is_kept_once_and_paths_never_appear():
    text = error_summary(RuntimeError(CHAINED))
    lines = text.splitlines()
    assert lines[0].startswith("RuntimeError: TypeError: `generator` yielded")
    assert lines[0].endswith("could not be converted to the dtype.")
    assert "ValueError: could not convert string to float: np.str_('a')" in lines
    assert len(lines) == 2, lines  # the repeated TypeError line is dropped
    assert "/opt/" not in text and "site-packages" not in text and "File " not in text


def test_defined_here_block_is_dropped_and_urls_are_kept():
    text = error_summary(TypeError(DEFINED_HERE))
    assert "https://www.tensorflow.org/guide/function#all_outputs" in text
    assert "/work/" not in text and "was defined here" not in text
    assert text.endswith("The tensor <tf.Tensor 'args_0:0'> cannot be accessed from here.")


def test_stray_absolute_paths_are_shortened_to_file_names():
    text = error_summary(FileNotFoundError("/home/alice/data/generated/x_X.npy: no such file"))
    assert text == "FileNotFoundError: x_X.npy: no such file"
