"""session.max_sessions: how many session daemons one user may have running at once."""
from conftest import SUCCESS, SETUP


def test_one_more_daemon_than_allowed_is_refused_until_one_stops(sp, tmp_path):
    sp.configure("[session]\nmax_sessions = 1\n")
    other = tmp_path / "other"
    other.mkdir()
    sp.exec("x = 1", check=SUCCESS)
    proc = sp.run("exec", "-w", str(other), "-c", "print(2)", check=SETUP)
    assert proc.stderr.startswith("sandpit: start session: 1 sessions are running, as many as session.max_sessions allows")
    # Fresh runs start no daemon, and the running session still serves.
    assert sp.run("exec", "--fresh", "-w", str(other), "-c", "print(3)", check=SUCCESS).stdout == "3\n"
    assert sp.exec("print(x)", check=SUCCESS).stdout == "1\n"
    sp.run("session", "stop", "-w", str(sp.workspace), check=SUCCESS)
    assert sp.run("exec", "-w", str(other), "-c", "print(2)", check=SUCCESS).stdout == "2\n"
    sp.run("session", "stop", "-w", str(other), check=SUCCESS)
