import Foundation

/// What a person may do with evidence, as a role grants it. The daemon checks each request
/// against the caller's groups (`AccessPolicy`); a refused request is recorded as a `refused`
/// custody event.
public struct CustodyAction: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Drop files into the inbox (and `ingest` through the daemon).
    public static let drop = CustodyAction(rawValue: "drop")
    /// See items, their metadata, their history; verify; read entries, proofs and checkpoints.
    public static let view = CustodyAction(rawValue: "view")
    /// Take an original out of the vault.
    public static let extract = CustodyAction(rawValue: "extract")
    /// Make chain-of-custody reports.
    public static let report = CustodyAction(rawValue: "report")
    /// Export time stamps and court bundles.
    public static let export = CustodyAction(rawValue: "export")
    /// Add notes to an item's record.
    public static let annotate = CustodyAction(rawValue: "annotate")
    /// Hand items over to another bureau, and receive them.
    public static let transfer = CustodyAction(rawValue: "transfer")
    /// Put items on legal hold and release holds.
    public static let hold = CustodyAction(rawValue: "hold")
    /// Ask for an item's disposal (return to its owner, or destruction).
    public static let dispose = CustodyAction(rawValue: "dispose")
    /// Approve another account's disposal request (four eyes).
    public static let approve = CustodyAction(rawValue: "approve")
    /// Set a case's retention, sign checkpoints, manage peers and keys.
    public static let administer = CustodyAction(rawValue: "administer")

    /// Every action, in the order documented.
    public static let all: [CustodyAction] = [
        .drop, .view, .extract, .report, .export, .annotate, .transfer, .hold, .dispose, .approve, .administer,
    ]

    public var description: String { rawValue }
    public static func < (lhs: CustodyAction, rhs: CustodyAction) -> Bool {
        (all.firstIndex(of: lhs) ?? .max, lhs.rawValue) < (all.firstIndex(of: rhs) ?? .max, rhs.rawValue)
    }
}

/// Which groups may do what: the daemon's `roles` setting, group name to actions. With none
/// given, `standard`: the `evidence` group may view, annotate, extract, report and export;
/// holds, disposal, approval, transfers and administration need groups the policy names.
public struct AccessPolicy: Sendable, Equatable {
    public var grants: [String: Set<CustodyAction>]

    public init(grants: [String: Set<CustodyAction>]) { self.grants = grants }

    /// The policy when the configuration names none.
    public static let standard = AccessPolicy(grants: ["evidence": [.view, .annotate, .extract, .report, .export]])

    /// The groups among `groups` that grant `action`, sorted; empty when none does.
    public func groupsGranting(_ action: CustodyAction, among groups: [String]) -> [String] {
        Set(groups).filter { grants[$0]?.contains(action) == true }.sorted()
    }

    /// Everything `groups` may do together.
    public func actions(of groups: [String]) -> [CustodyAction] {
        Set(groups.flatMap { grants[$0] ?? [] }).sorted()
    }

    /// The groups that grant `action` in this policy, sorted.
    public func groups(granting action: CustodyAction) -> [String] {
        grants.filter { $0.value.contains(action) }.map(\.key).sorted()
    }

    /// Parses one role: `group`'s actions as the configuration lists them (comma-separated).
    /// Throws a sentence naming what is wrong.
    public static func actions(parsing text: String) throws(PolicyError) -> Set<CustodyAction> {
        var actions = Set<CustodyAction>()
        for word in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !word.isEmpty {
            guard let action = CustodyAction.all.first(where: { $0.rawValue == word }) else {
                throw PolicyError(
                    "unknown action \"\(word)\" (known: \(CustodyAction.all.map(\.rawValue).joined(separator: ", ")))")
            }
            actions.insert(action)
        }
        return actions
    }

    /// A group name as the system allows it: 1 to 32 bytes of letters, digits, `_`, `-`, `.`.
    public static func isGroupName(_ name: String) -> Bool {
        (1...32).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (0x61...0x7A).contains(byte) || (0x41...0x5A).contains(byte) || (0x30...0x39).contains(byte)
                    || byte == 0x5F || byte == 0x2D || byte == 0x2E
            }
    }
}

/// A role that cannot be read.
public struct PolicyError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
