import CustosFileSystem

/// What to seal and the acquisition metadata the handler gives with it.
public struct SealRequest: Sendable {
    public var path: RawPath
    public var caseID: String
    public var exhibit: String
    public var examiner: String
    public var description: String

    public init(
        path: RawPath, caseID: String = "", exhibit: String = "", examiner: String = "", description: String = ""
    ) {
        self.path = path
        self.caseID = caseID
        self.exhibit = exhibit
        self.examiner = examiner
        self.description = description
    }
}

/// Who and where the seal is made: recorded in the manifest.
public struct SealingContext: Sendable {
    public var host: String
    public var operatorName: String
    public var operatorUID: UInt32
    public var tool: String

    public init(host: String, operatorName: String, operatorUID: UInt32, tool: String) {
        self.host = host
        self.operatorName = operatorName
        self.operatorUID = operatorUID
        self.tool = tool
    }
}
