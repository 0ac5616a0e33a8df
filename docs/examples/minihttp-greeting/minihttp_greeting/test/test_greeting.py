"""The greeting handler's tests: a trial TestCase, run with `trial minihttp_greeting` (pytest runs it too).

``FakeConnection`` drives minihttp's real HTTP channel on a fake transport, so
these run in milliseconds with no sockets.
"""

from twisted.trial.unittest import SynchronousTestCase
from twisted_http.handlers import spec
from twisted_http.testing import FakeConnection

from minihttp_greeting import Greeting


class GreetingTests(SynchronousTestCase):
    def test_greets_the_world_by_default(self) -> None:
        conn = FakeConnection(Greeting())
        conn.request(b"GET", b"/")
        [response] = conn.responses()
        self.assertEqual(response.status, 200)
        self.assertEqual(response.body, b"Hello, world!\n")

    def test_greets_whoever_the_path_names(self) -> None:
        conn = FakeConnection(Greeting(style="shout"))
        conn.request(b"GET", b"/Ann")
        self.assertEqual(conn.responses()[0].body, b"HELLO, ANN!\n")

    def test_refuses_posts(self) -> None:
        conn = FakeConnection(Greeting())
        conn.request(b"POST", b"/", body=b"x")
        self.assertEqual(conn.responses()[0].status, 405)

    def test_found_by_name_with_options(self) -> None:
        """The plugin file makes it available to --handler (when this folder is on the path)."""
        handler = spec.build(spec.parse("/hello=greeting(name=friend)"))
        self.assertIsInstance(handler, Greeting)
        self.assertEqual(handler.name, "friend")

    def test_a_bad_option_is_one_line(self) -> None:
        with self.assertRaises(ValueError) as caught:
            spec.build(spec.parse("/hello=greeting(style=whisper)"))
        self.assertEqual(str(caught.exception),
                         "greeting: style must be plain or shout, not 'whisper'")
