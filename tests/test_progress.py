import io

from portico.progress import ProgressBar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_it_draws_a_bar_on_a_terminal_and_ends_the_line_when_done():
    screen = Terminal()
    bar = ProgressBar(screen, "Importing")
    bar(0, 4)
    bar(4, 4)
    assert screen.getvalue().endswith("\rImporting [" + "#" * 30 + "] 100% 4/4\n")
    assert "\rImporting [" + "." * 30 + "]   0% 0/4" in screen.getvalue()


def test_it_is_silent_when_the_output_is_not_a_terminal():
    out = io.StringIO()
    ProgressBar(out, "Importing")(1, 1)
    assert out.getvalue() == ""
