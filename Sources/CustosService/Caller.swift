import CustosCustody
import CustosFileSystem

/// Who asks the custody service: an account, its groups, and how they are known. The daemon
/// makes one from its socket's peer credentials (the kernel's word: `verification == .kernel`);
/// a command on a vault its account owns makes one of its own process (`.process`). Never from
/// anything the caller sends.
public struct Caller: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    /// The primary group and the supplementary groups, as the kernel gave them.
    public var groupIDs: [UInt32]
    public var pid: Int32?
    public var verification: ActorVerification
    /// The account's name in the system's user database, or `uid N` when it has none.
    public var account: String
    /// The groups' names (`gid N` for a group the database does not name).
    public var groups: [String]

    public init(uid: UInt32, gid: UInt32, groupIDs: [UInt32], pid: Int32?, verification: ActorVerification) {
        self.uid = uid
        self.gid = gid
        var all = [gid]
        for group in groupIDs where !all.contains(group) { all.append(group) }
        self.groupIDs = all
        self.pid = pid
        self.verification = verification
        account = ThisProcess.accountName(userID: uid) ?? "uid \(uid)"
        groups = all.map { ThisProcess.groupName(groupID: $0) ?? "gid \($0)" }
    }

    /// A caller whose names are already known (tests; a daemon that resolved them itself).
    public init(
        account: String, uid: UInt32, gid: UInt32, groupIDs: [UInt32], groups: [String], pid: Int32?,
        verification: ActorVerification
    ) {
        self.uid = uid
        self.gid = gid
        self.groupIDs = groupIDs
        self.pid = pid
        self.verification = verification
        self.account = account
        self.groups = groups
    }

    /// A socket's peer, as the kernel named it (`SO_PEERCRED`, `SO_PEERGROUPS`).
    public static func peer(pid: Int32, uid: UInt32, gid: UInt32, groups: [UInt32]) -> Caller {
        Caller(uid: uid, gid: gid, groupIDs: groups, pid: pid, verification: .kernel)
    }

    /// This process's own account.
    public static var thisProcess: Caller {
        let ids = ThisProcess.groupIDs
        return Caller(
            uid: ThisProcess.effectiveUserID, gid: ids.first ?? 0, groupIDs: ids, pid: ThisProcess.identifier,
            verification: .process)
    }

    /// The actor recorded for an action this caller may take, with the groups that granted it.
    func actor(examiner: String?, grantingGroups: [String]) -> CustodyActor {
        CustodyActor(
            account: account, uid: uid, examiner: examiner.flatMap { $0.isEmpty ? nil : $0 },
            verification: verification, grantingGroups: grantingGroups,
            pid: verification == .kernel ? pid : nil)
    }
}
