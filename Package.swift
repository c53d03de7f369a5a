// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Custos",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "custos", targets: ["custos"])
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        // Hummingbird's own dependencies, named because CustosLocalServer imports them.
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.34.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
    ],
    targets: [
        // C libraries: one thin system-library target each.
        .systemLibrary(
            name: "CArchive",
            pkgConfig: "libarchive",
            providers: [.apt(["libarchive-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),
        .systemLibrary(
            name: "CPangoCairo",
            pkgConfig: "pangocairo",
            providers: [.apt(["libpango1.0-dev", "libcairo2-dev"])]
        ),
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),

        // The Linux calls glibc hides behind _GNU_SOURCE (renameat2, syncfs, leases).
        .target(name: "CLinux"),

        // Formats: pure Swift, no I/O.
        .target(name: "CustosFormats"),

        // Adapters: one per C library or system facility.
        .target(name: "CustosOpenSSL", dependencies: ["COpenSSL", "CustosFormats"]),
        .target(name: "CustosArchive", dependencies: ["CArchive", "CZstd", "CustosFormats"]),
        .target(name: "CustosSQLite", dependencies: ["CSQLite"]),
        .target(name: "CustosFileSystem", dependencies: ["CLinux", "CustosFormats"]),
        .target(name: "CustosWatch", dependencies: ["CustosFormats", "CustosFileSystem"]),
        .target(name: "CustosHTTP"),
        // Court reports laid out as PDF (pango + cairo); generic blocks, no custody facts.
        .target(name: "CustosPDF", dependencies: ["CPangoCairo", "CustosFormats"]),
        // The daemon's local transport: HTTP over a Unix socket, the caller named by the kernel
        // (SO_PEERCRED), generic over a handler; it knows nothing of custody.
        .target(
            name: "CustosLocalServer",
            dependencies: [
                "CLinux",
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Services.
        // The log's logic over a narrow store interface (LedgerStore); SQLite is its driver.
        .target(
            name: "CustosLedger",
            dependencies: ["CustosFormats", "CustosOpenSSL"]
        ),
        .target(
            name: "CustosLedgerSQLite",
            dependencies: ["CustosFormats", "CustosLedger", "CustosSQLite"]
        ),
        .target(
            name: "CustosVault",
            dependencies: ["CustosFormats", "CustosOpenSSL", "CustosFileSystem", "CustosLedger", "CustosLedgerSQLite"]
        ),
        // Trusted time, all of RFC 3161's policy: the node's own TSA, external authorities over
        // RFC 3161's HTTP transport, the checks of every token (OpenSSL's TS calls stay in CustosOpenSSL).
        .target(
            name: "CustosTimeStamping",
            dependencies: [
                "CustosFormats", "CustosOpenSSL", "CustosHTTP", "CustosFileSystem", "CustosLedger", "CustosVault",
            ]
        ),
        .target(
            name: "CustosSealing",
            dependencies: [
                "CustosFormats", "CustosOpenSSL", "CustosArchive", "CustosFileSystem", "CustosLedger",
                "CustosVault", "CustosTimeStamping",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Use cases: the one way to act on evidence (seal, checkpoint, custody events). Commands
        // and the daemon's services drive it; none writes a workflow of its own.
        .target(
            name: "CustosCustody",
            dependencies: [
                "CustosFormats", "CustosOpenSSL", "CustosArchive", "CustosFileSystem", "CustosLedger", "CustosVault",
                "CustosSealing", "CustosTimeStamping", .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // Reports: a chain-of-custody report's facts from the ledger and the vault, its JSON, its
        // PDF (laid out by CustosPDF), detached CMS signatures and its `reported` event.
        .target(
            name: "CustosReport",
            dependencies: [
                "CustosFormats", "CustosOpenSSL", "CustosFileSystem", "CustosLedger", "CustosVault", "CustosSealing",
                "CustosTimeStamping", "CustosCustody", "CustosPDF",
            ]
        ),

        // The custody service as people reach it: roles, the caller, one call and its reply
        // (served by the daemon on its socket, or in process on a vault the caller owns).
        .target(
            name: "CustosService",
            dependencies: [
                "CustosFormats", "CustosOpenSSL", "CustosFileSystem", "CustosLedger", "CustosVault", "CustosSealing",
                "CustosCustody", "CustosReport", .product(name: "Logging", package: "swift-log"),
            ]
        ),

        // The daemon: watches the inbox, seals through CustosCustody, releases, reconciles.
        .target(
            name: "CustosDaemon",
            dependencies: [
                "CustosFormats", "CustosFileSystem", "CustosWatch", "CustosLedger", "CustosVault",
                "CustosSealing", "CustosCustody", "CustosService", "CustosLocalServer", "CustosOpenSSL",
                "CustosTimeStamping", .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        // App.
        .executableTarget(
            name: "custos",
            dependencies: [
                "CustosFormats", "CustosOpenSSL", "CustosFileSystem", "CustosLedger", "CustosVault",
                "CustosSealing", "CustosCustody", "CustosService", "CustosDaemon", "CustosTimeStamping", "CustosHTTP",
                "CustosReport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "custos-bench",
            dependencies: [
                "COpenSSL", "CustosFormats", "CustosOpenSSL", "CustosSQLite", "CustosLedger", "CustosLedgerSQLite",
                "CustosHTTP", "CustosTestSupport",
            ]
        ),

        .target(
            name: "CustosTestSupport", dependencies: ["COpenSSL", "CustosOpenSSL"], path: "Tests/CustosTestSupport"),
        // The vectors are part of the tests: a missing file fails them (Tests/CustosFormatsTests/Vectors/README.md).
        .testTarget(
            name: "CustosFormatsTests", dependencies: ["CustosFormats", "CustosOpenSSL"], resources: [.copy("Vectors")]),
        .testTarget(
            name: "CustosTimeStampingTests",
            dependencies: [
                "COpenSSL", "CustosFormats", "CustosOpenSSL", "CustosHTTP", "CustosTimeStamping", "CustosTestSupport",
            ]
        ),
        .testTarget(
            name: "CustosOpenSSLTests",
            dependencies: ["COpenSSL", "CustosFormats", "CustosOpenSSL", "CustosTestSupport"]),
        .testTarget(
            name: "CustosLedgerTests",
            dependencies: [
                "CustosFormats", "CustosOpenSSL", "CustosSQLite", "CustosLedger", "CustosLedgerSQLite",
                "CustosTestSupport",
            ]
        ),
        .testTarget(
            name: "CustosSealingTests",
            dependencies: [
                "CustosFormats", "CustosFileSystem", "CustosLedger", "CustosVault", "CustosSealing",
                "CustosTestSupport",
            ]
        ),
        .testTarget(
            name: "CustosVaultTests",
            dependencies: [
                "CustosFormats", "CustosOpenSSL", "CustosFileSystem", "CustosLedger", "CustosVault",
                "CustosTestSupport",
            ]
        ),
        .testTarget(name: "CustosArchiveTests", dependencies: ["CustosArchive", "CustosFormats", "CustosTestSupport"]),
        .testTarget(
            name: "CustosFileSystemTests", dependencies: ["CustosFileSystem", "CustosFormats", "CustosTestSupport"]),
        .testTarget(name: "CustosPDFTests", dependencies: ["CustosPDF", "CustosTestSupport"]),
        .testTarget(name: "CustosHTTPTests", dependencies: ["CustosHTTP", "CustosTestSupport"]),
        .testTarget(
            name: "CustosLocalServerTests",
            dependencies: [
                "CustosLocalServer", "CustosHTTP", "CustosTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ServiceLifecycleTestKit", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "CustosSQLiteTests", dependencies: ["CSQLite", "CustosSQLite", "CustosTestSupport"]),
        .testTarget(
            name: "CustosWatchTests",
            dependencies: ["CustosWatch", "CustosFileSystem", "CustosFormats", "CustosTestSupport"]),
        .testTarget(
            name: "CustosDaemonTests",
            dependencies: [
                "CustosDaemon", "CustosFileSystem", "CustosFormats", "CustosSealing", "CustosTimeStamping",
                "CustosTestSupport",
            ]),
        .testTarget(
            name: "CustosHandoverTests",
            dependencies: [
                "CustosFormats", "CustosOpenSSL", "CustosArchive", "CustosFileSystem", "CustosLedger", "CustosVault",
                "CustosSealing", "CustosCustody", "CustosTimeStamping", "CustosTestSupport",
            ]
        ),
        .testTarget(
            name: "CustosCustodyTests",
            dependencies: [
                "CustosCustody", "CustosFormats", "CustosOpenSSL", "CustosFileSystem", "CustosLedger", "CustosSQLite",
                "CustosVault", "CustosSealing", "CustosTimeStamping", "CustosTestSupport",
            ]
        ),
        .testTarget(
            name: "CustosServiceTests",
            dependencies: [
                "CustosService", "CustosCustody", "CustosFormats", "CustosFileSystem", "CustosLedger", "CustosVault",
                "CustosSealing", "CustosTimeStamping", "CustosOpenSSL", "CustosTestSupport",
            ]
        ),
        .testTarget(
            name: "CustosReportTests",
            dependencies: [
                "CustosReport", "CustosCustody", "CustosFormats", "CustosOpenSSL", "CustosFileSystem", "CustosLedger",
                "CustosVault", "CustosSealing", "CustosTimeStamping", "CustosTestSupport", "CustosPDF",
            ]
        ),
        .testTarget(
            name: "CustosEndToEndTests",
            dependencies: ["CustosFormats", "CustosOpenSSL", "CustosHTTP", "CustosTestSupport"]
        ),
    ]
)

// One place, every target the same (as swift-nio and Hummingbird do). CI sets
// CUSTOS_WARNINGS_AS_ERRORS=1: warnings fail Custos' own targets, not its dependencies.
let warningsAsErrors = Context.environment["CUSTOS_WARNINGS_AS_ERRORS"] == "1"
for target in package.targets where target.type != .system && target.name != "CLinux" {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    if warningsAsErrors { settings.append(.unsafeFlags(["-warnings-as-errors"])) }
    target.swiftSettings = settings
}
