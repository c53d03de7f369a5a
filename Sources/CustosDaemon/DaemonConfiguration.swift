import CustosFileSystem
import CustosFormats
import CustosService
import CustosTimeStamping
import CustosVault
import Foundation

/// What the daemon does with an original once its seal is durable.
public enum ReleasePolicy: String, Sendable, Equatable {
    /// Move it to `sealed/<case>/…` beside the inbox (the default).
    case move
    /// Delete it from the inbox (only the inbox's name: a hard-linked target elsewhere stays).
    case delete
}

/// The daemon's settings: the file `custos-daemon.yaml` in the vault (or `--config FILE`), then
/// environment variables `CUSTOS_<KEY>` (dashes as underscores), then these defaults.
///
/// Relative paths are taken from the vault folder. `sealed` and `rejected` default to folders
/// beside the inbox; none of the three may lie inside another.
public struct DaemonConfiguration: Sendable, Equatable {
    public var inbox: RawPath
    public var sealed: RawPath
    public var rejected: RawPath
    public var release: ReleasePolicy = .move
    /// How long size and mtime must stay unchanged before a closed file is sealed.
    public var settleSeconds: Double = 2
    /// How often the whole inbox is walked again, in case an event was lost.
    public var rescanSeconds: Double = 60
    /// How often a checkpoint is signed while entries are being appended.
    public var checkpointSeconds: Double = 5
    /// The first wait before a file that could not be read (or a full disk) is tried again;
    /// it doubles each time, up to ten minutes.
    public var retrySeconds: Double = 5
    /// Sealing threads: several keep the disk busy with small files (their fsyncs share journal
    /// commits); a large file is read by one of them, its digests and compression on their own threads.
    public var workers: Int = 4
    /// Overrides of the vault's own settings (`custos.json`); nil keeps the vault's.
    public var compression: Compression?
    public var compressionLevel: Int?
    public var md5: Bool?
    public var sha1: Bool?
    /// External time-stamping authorities, asked in the background for a token over every item
    /// and the latest checkpoint (`timestamp-authorities.<name>.url|anchors|timeout-seconds`).
    public var timeStampAuthorities: [ExternalAuthoritySetting] = []
    /// The first wait before an authority that failed is asked again; it doubles each time, up
    /// to ten minutes.
    public var timeStampRetrySeconds: Double = 30
    /// An alarm is raised when an item has waited this long for an external authority's token.
    public var timeStampAlarmSeconds: Double = 3600
    /// A token whose genTime differs from the node's clock by more is kept, but flagged.
    public var timeStampSkewSeconds: Double = 60

    /// Where people reach the daemon: a Unix socket (mode 0660) in a folder only the service
    /// account and `socketGroup` may enter. `$CUSTOS_SOCKET` sets it for the daemon and the CLI
    /// alike; the systemd unit gives `/run/custos/custos.sock`.
    public var socket: RawPath
    /// The group whose members may connect (the socket's group): `evidence` when the system has
    /// that group, else the daemon's own.
    public var socketGroup: String?
    /// Which groups may do what (`roles.<group>: [actions]`); `AccessPolicy.standard` when none
    /// is given.
    public var roles: AccessPolicy = .standard

    /// The defaults for a vault at `vault`: its `inbox/`, with `sealed/` and `rejected/` beside it.
    public init(vault: RawPath) {
        socket = Vault.ownSocket(of: vault)
        socketGroup = ThisProcess.groupID(named: "evidence") == nil ? nil : "evidence"
        inbox = vault.appending("inbox")
        sealed = vault.appending("sealed")
        rejected = vault.appending("rejected")
    }

    /// The configuration file's name in a vault.
    public static let fileName = "custos-daemon.yaml"

    /// The keys, in the order documented.
    static let keys = [
        "inbox", "sealed", "rejected", "release", "settle-seconds", "rescan-seconds", "checkpoint-seconds",
        "retry-seconds", "workers", "compression", "compression-level", "digests", "timestamp-retry-seconds",
        "timestamp-alarm-seconds", "timestamp-skew-seconds", "socket", "socket-group",
    ]

    /// The settings of each external authority, under `timestamp-authorities.<name>.`.
    static let authorityKeys = ["url", "anchors", "timeout-seconds"]

    /// The environment variable that overrides `key`.
    public static func environmentName(_ key: String) -> String {
        "CUSTOS_" + key.uppercased().replacingOccurrences(of: "-", with: "_")
    }

    /// Loads the configuration for the vault at `vault`: the file's settings (when `file` is given,
    /// it must exist), then the environment's. A bad setting throws with the file and line, or the
    /// variable's name, and the reason.
    public static func load(
        vault: RawPath, file: RawPath?, fileText: String?, environment: [String: String]
    ) throws(ConfigurationError) -> DaemonConfiguration {
        var configuration = DaemonConfiguration(vault: vault)
        var explicitSealed = false
        var explicitRejected = false
        var roles = [String: Set<CustodyAction>]()
        if let file, let fileText {
            let settings = try SettingsFile(name: file.description, text: fileText)
            for value in settings.values {
                if value.key.hasPrefix("roles.") || value.key == "roles" {
                    let group = String(value.key.dropFirst("roles.".count))
                    guard value.key != "roles", AccessPolicy.isGroupName(group) else {
                        throw ConfigurationError(
                            file: settings.name, line: value.line,
                            "\(value.key): roles are set as roles: {GROUP: [ACTION, ...]}, a group name being 1 to 32 letters, digits, _, - or ."
                        )
                    }
                    do {
                        roles[group] = try AccessPolicy.actions(parsing: value.text)
                    } catch {
                        throw ConfigurationError(file: settings.name, line: value.line, "\(value.key): \(error)")
                    }
                    continue
                }
                if value.key.hasPrefix("timestamp-authorities.") || value.key == "timestamp-authorities" {
                    do {
                        try configuration.setAuthority(value.key, value.text, line: value.line, vault: vault)
                    } catch let reason as Reason {
                        throw ConfigurationError(file: settings.name, line: value.line, "\(value.key): \(reason.text)")
                    } catch {}
                    continue
                }
                guard keys.contains(value.key) else {
                    throw ConfigurationError(
                        file: settings.name, line: value.line,
                        "\(value.key): unknown setting (known: \(keys.joined(separator: ", ")))")
                }
                do {
                    try configuration.set(value.key, value.text, vault: vault)
                } catch let reason as Reason {
                    throw ConfigurationError(file: settings.name, line: value.line, "\(value.key): \(reason.text)")
                } catch {}
                if value.key == "sealed" { explicitSealed = true }
                if value.key == "rejected" { explicitRejected = true }
            }
        }
        for key in keys {
            let name = environmentName(key)
            guard let text = environment[name] else { continue }
            do {
                try configuration.set(key, text, vault: vault)
            } catch let reason as Reason {
                throw ConfigurationError(file: "environment variable \(name)", line: nil, reason.text)
            } catch {}
            if key == "sealed" { explicitSealed = true }
            if key == "rejected" { explicitRejected = true }
        }
        if !roles.isEmpty { configuration.roles = AccessPolicy(grants: roles) }
        // Beside the inbox, wherever the inbox is, unless given.
        if !explicitSealed { configuration.sealed = configuration.inbox.parent.appending("sealed") }
        if !explicitRejected { configuration.rejected = configuration.inbox.parent.appending("rejected") }
        try configuration.checkFolders(vault: vault)
        for authority in configuration.timeStampAuthorities {
            guard !authority.url.isEmpty, !authority.anchors.bytes.isEmpty else {
                throw ConfigurationError(
                    file: file?.description ?? "configuration", line: authority.line,
                    "timestamp-authorities.\(authority.name): needs both url and anchors")
            }
        }
        return configuration
    }

    private struct Reason: Error {
        var text: String
        init(_ text: String) { self.text = text }
    }

    /// `timestamp-authorities.<name>.<setting>`.
    private mutating func setAuthority(_ key: String, _ text: String, line: Int, vault: RawPath) throws {
        let parts = key.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, Self.authorityKeys.contains(parts[2]) else {
            throw Reason(
                "an external authority is set as timestamp-authorities: NAME: {url: ..., anchors: ..., timeout-seconds: ...}"
            )
        }
        let name = parts[1]
        guard (1...32).contains(name.utf8.count), name != TimeStampRecord.nodeSource,
            name.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D })
        else {
            throw Reason(
                "an authority's name is 1 to 32 lower-case letters, digits and dashes, and not \"node\"; not \"\(name)\""
            )
        }
        var index = timeStampAuthorities.firstIndex { $0.name == name }
        if index == nil {
            timeStampAuthorities.append(ExternalAuthoritySetting(name: name, line: line))
            index = timeStampAuthorities.count - 1
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch parts[2] {
        case "url":
            guard trimmed.hasPrefix("http://"), trimmed.count > 7, !trimmed.contains(" ") else {
                throw Reason(
                    "must be an http:// URL (RFC 3161's HTTP transport; the token is signed, so it needs no TLS), not \"\(text)\""
                )
            }
            timeStampAuthorities[index!].url = trimmed
        case "anchors":
            timeStampAuthorities[index!].anchors = try path(trimmed, vault: vault, what: "a PEM file of trust anchors")
        default:
            guard let value = Double(trimmed), value.isFinite, (0.1...300).contains(value) else {
                throw Reason("must be a number of seconds from 0.1 to 300, not \"\(text)\"")
            }
            timeStampAuthorities[index!].timeoutSeconds = value
        }
    }

    private func path(_ trimmed: String, vault: RawPath, what: String) throws -> RawPath {
        guard !trimmed.isEmpty, !trimmed.utf8.contains(0) else { throw Reason("must be \(what)") }
        var bytes = Array(trimmed.utf8)
        while bytes.count > 1, bytes.last == UInt8(ascii: "/") { bytes.removeLast() }
        return bytes.first == UInt8(ascii: "/")
            ? RawPath(bytes: bytes) : RawPath(bytes: vault.bytes + [UInt8(ascii: "/")] + bytes)
    }

    private mutating func set(_ key: String, _ text: String, vault: RawPath) throws {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func seconds(_ range: ClosedRange<Double>) throws -> Double {
            guard let value = Double(trimmed), value.isFinite, range.contains(value) else {
                throw Reason(
                    "must be a number of seconds from \(Self.format(range.lowerBound)) to \(Self.format(range.upperBound)), not \"\(text)\""
                )
            }
            return value
        }
        func path() throws -> RawPath { try self.path(trimmed, vault: vault, what: "a folder path") }
        switch key {
        case "inbox": inbox = try path()
        case "sealed": sealed = try path()
        case "rejected": rejected = try path()
        case "release":
            guard let policy = ReleasePolicy(rawValue: trimmed) else {
                throw Reason("must be move or delete, not \"\(text)\"")
            }
            release = policy
        case "socket":
            guard !trimmed.isEmpty, !trimmed.utf8.contains(0), trimmed.utf8.count < 100 else {
                throw Reason("must be a path of fewer than 100 bytes (a Unix socket's limit), not \"\(text)\"")
            }
            socket = try self.path(trimmed, vault: vault, what: "a socket path")
            guard socket.bytes.count < 108 else {
                throw Reason("\(socket): too long for a Unix socket (at most 107 bytes)")
            }
        case "socket-group":
            guard AccessPolicy.isGroupName(trimmed) else {
                throw Reason("must be a group name (1 to 32 letters, digits, _, - or .), not \"\(text)\"")
            }
            socketGroup = trimmed
        case "settle-seconds": settleSeconds = try seconds(0...3600)
        case "rescan-seconds": rescanSeconds = try seconds(1...86400)
        case "checkpoint-seconds": checkpointSeconds = try seconds(0.1...3600)
        case "retry-seconds": retrySeconds = try seconds(0.1...3600)
        case "timestamp-retry-seconds": timeStampRetrySeconds = try seconds(0.1...3600)
        case "timestamp-alarm-seconds": timeStampAlarmSeconds = try seconds(1...30 * 86400)
        case "timestamp-skew-seconds": timeStampSkewSeconds = try seconds(0...86400)
        case "workers":
            guard let count = Int(trimmed), (1...64).contains(count) else {
                throw Reason("must be a whole number from 1 to 64, not \"\(text)\"")
            }
            workers = count
        case "compression":
            guard let named = Compression(rawValue: trimmed) else {
                throw Reason("must be \(Compression.choice), not \"\(text)\"")
            }
            compression = named
        case "compression-level":
            guard let level = Int(trimmed), (1...19).contains(level) else {
                throw Reason("must be a whole number from 1 to 19, not \"\(text)\"")
            }
            compressionLevel = level
        case "digests":
            let names = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard names.contains("sha256"), names.allSatisfy({ ["sha256", "md5", "sha1"].contains($0) }) else {
                throw Reason("must list sha256 and optionally md5 and sha1, not \"\(text)\"")
            }
            md5 = names.contains("md5")
            sha1 = names.contains("sha1")
        default:
            throw Reason("unknown setting")
        }
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    /// The inbox, `sealed` and `rejected` must be three separate places, none inside another:
    /// the inbox holds only what is waiting.
    /// None of the three folders may be the vault, hold it, or lie inside its own state; nor be,
    /// hold or lie inside another of the three. Compared as the kernel resolves them (links and
    /// `..` followed for the parts that exist), so no spelling gets around it.
    private func checkFolders(vault: RawPath) throws(ConfigurationError) {
        let folders = [("inbox", inbox), ("sealed", sealed), ("rejected", rejected)]
        let resolvedVault = Self.resolved(vault)
        func refuse(_ text: String) -> ConfigurationError { ConfigurationError(file: "configuration", line: nil, text) }
        for (name, path) in folders {
            let resolved = Self.resolved(path)
            for (otherName, other) in folders where otherName != name {
                let resolvedOther = Self.resolved(other)
                if path.bytes == other.bytes || resolved == resolvedOther {
                    throw refuse("\(name) (\(path)) must not be the same folder as \(otherName) (\(other))")
                }
                if path.isInside(other) || resolved.isInside(resolvedOther) {
                    throw refuse("\(name) (\(path)) must not be inside \(otherName) (\(other))")
                }
            }
            if resolved == resolvedVault {
                throw refuse(
                    "\(name) (\(path)) must not be the vault itself (\(vault)): the vault would be sealed away")
            }
            if resolvedVault.isInside(resolved) {
                throw refuse("\(name) (\(path)) must not hold the vault (\(vault)): the vault would be sealed away")
            }
            for state in Vault.stateNames {
                let part = resolvedVault.appending(state)
                if resolved == part || resolved.isInside(part) {
                    throw refuse(
                        "\(name) (\(path)) must not lie inside the vault's own \(state) (\(vault.appending(state)))")
                }
            }
        }
    }

    /// `path` as the kernel resolves it: `realpath` of the deepest part that exists, then the
    /// rest, with `.` and `..` taken lexically.
    static func resolved(_ path: RawPath) -> RawPath {
        var existing = path
        var rest = [[UInt8]]()
        while true {
            if var result = FileSystem.realPath(existing) {
                for component in rest {
                    if component == Array("..".utf8) {
                        result = result.parent
                    } else if RawPath.isSafeComponent(component) {
                        result = result.appending(component: component)
                    }
                }
                return result
            }
            let parent = existing.parent
            if parent == existing || existing.bytes.isEmpty { return path }
            rest.insert(existing.lastComponent, at: 0)
            existing = parent
        }
    }

    /// The settings as `key: value` lines, for `custos daemon --check` and the start-up log.
    public var summary: [(String, String)] {
        let digests: String =
            md5 == nil && sha1 == nil
            ? "(the vault's)"
            : (["sha256"] + (md5 == true ? ["md5"] : []) + (sha1 == true ? ["sha1"] : [])).joined(separator: ",")
        var lines: [(String, String)] = [
            ("inbox", inbox.description), ("sealed", sealed.description), ("rejected", rejected.description),
            ("release", release.rawValue), ("settle-seconds", Self.format(settleSeconds)),
            ("rescan-seconds", Self.format(rescanSeconds)), ("checkpoint-seconds", Self.format(checkpointSeconds)),
            ("retry-seconds", Self.format(retrySeconds)), ("workers", String(workers)),
            ("compression", compression?.rawValue ?? "(the vault's)"),
            ("compression-level", compressionLevel.map(String.init) ?? "(the vault's)"),
            ("digests", digests),
            ("timestamp-retry-seconds", Self.format(timeStampRetrySeconds)),
            ("timestamp-alarm-seconds", Self.format(timeStampAlarmSeconds)),
            ("timestamp-skew-seconds", Self.format(timeStampSkewSeconds)),
        ]
        lines.append(("socket", socket.description))
        lines.append(("socket-group", socketGroup ?? "(the daemon's own group)"))
        for group in roles.grants.keys.sorted() {
            lines.append(("roles.\(group)", roles.grants[group]!.sorted().map(\.rawValue).joined(separator: ",")))
        }
        for authority in timeStampAuthorities {
            let timeout = Self.format(authority.timeoutSeconds)
            lines.append(
                (
                    "timestamp-authorities.\(authority.name)",
                    "\(authority.url) anchors \(authority.anchors) timeout \(timeout) s"
                ))
        }
        return lines
    }
}

extension RawPath {
    /// True when this path lies under `folder` (by bytes, after removing trailing slashes).
    func isInside(_ folder: RawPath) -> Bool {
        var base = folder.bytes
        while base.count > 1, base.last == UInt8(ascii: "/") { base.removeLast() }
        if base == [UInt8(ascii: "/")] { return bytes.count > 1 && bytes.first == UInt8(ascii: "/") }
        return bytes.count > base.count && bytes.starts(with: base) && bytes[base.count] == UInt8(ascii: "/")
    }
}
