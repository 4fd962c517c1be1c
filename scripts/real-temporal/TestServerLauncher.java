import java.util.Optional;

/**
 * Starts Temporal's Java test server (io.temporal.testserver.TestServer, same argv: {@code <port>
 * [--enable-time-skipping]}) and halts the JVM when the process that launched it goes away.
 *
 * <p>Why: {@code @temporalio/testing} launches an {@code existing-path} server and stops it with
 * SIGKILL; when the test process itself dies abruptly nobody kills the server, and a JVM left
 * behind keeps its port and about 200 MB. The wrapper script execs this JVM directly (so the SDK's
 * SIGKILL reaches it), and this class watches the parent it was started by.
 */
public final class TestServerLauncher {
  private TestServerLauncher() {}

  public static void main(String[] args) throws Exception {
    Optional<ProcessHandle> parent = ProcessHandle.current().parent();
    if (parent.isEmpty() || !parent.get().isAlive() || parent.get().pid() == 1) {
      System.err.println("temporal-test-server: launched without a live parent process; exiting");
      System.exit(1);
    }
    parent.get().onExit().thenRun(() -> Runtime.getRuntime().halt(0));
    io.temporal.testserver.TestServer.main(args);
  }
}
