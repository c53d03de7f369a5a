import Testing

/// Every suite that starts `custos daemon`, one at a time: a daemon runs several threads,
/// inotify, fsyncs and its own time-outs (settle time, rescans, checkpoints), so two suites of
/// daemons side by side on a small machine starve each other and time out. Each suite is an
/// extension of this one (Swift Testing serializes the children of a serialized suite) and is
/// serialized within itself too; the other end-to-end suites still run beside them.
@Suite("suites that start custos daemon, one at a time", .serialized, .timeLimit(.minutes(5)))
struct DaemonSuites {}
