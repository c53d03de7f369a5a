import CPangoCairo

/// What is drawn on a page, in points from the page's top left corner.
enum DrawOp {
    case text(TextBox, lines: Range<Int>, x: Double, y: Double)
    case rectangle(x: Double, y: Double, width: Double, height: Double, lineWidth: Double, fillGray: Double?)
    case rule(x1: Double, y1: Double, x2: Double, y2: Double, lineWidth: Double)
}

/// A cell of a row: a text box at an offset in the row, with its padding and decoration.
struct RowCell {
    var box: TextBox
    var x: Double
    var width: Double
    var padding: Double
    /// A ruled border around the cell: its line width (0: none).
    var border: Double = 0
    var fillGray: Double? = nil
}

/// Lays the blocks out on pages: every block either fits in what is left of the page or is split
/// between lines and continues on the next, so nothing overflows the page.
struct PageComposer {
    static let pageWidth = 595.2756  // A4, points
    static let pageHeight = 841.8898
    static let margin = 56.6929  // 20 mm

    let context: OpaquePointer
    /// The boxes already laid out in `context` (a report repeats its labels item after item).
    let cache: LayoutCache
    let body: FontSpec
    let bold: FontSpec
    let mono: FontSpec
    let bodyTop: Double
    let bodyBottom: Double
    let left = PageComposer.margin
    let width = PageComposer.pageWidth - 2 * PageComposer.margin

    private(set) var pages: [[DrawOp]] = [[]]
    private var y: Double

    init(context: OpaquePointer, cache: LayoutCache, body: FontSpec, mono: FontSpec, bodyTop: Double) {
        self.context = context
        self.cache = cache
        self.body = body
        var bold = body
        bold.bold = true
        self.bold = bold
        self.mono = mono
        self.bodyTop = bodyTop
        self.bodyBottom = PageComposer.pageHeight - PageComposer.margin
        self.y = bodyTop
    }

    var remaining: Double { bodyBottom - y }
    var pageIsEmpty: Bool { y <= bodyTop }

    mutating func newPage() {
        pages.append([])
        y = bodyTop
    }

    mutating func space(_ points: Double) {
        if !pageIsEmpty { y = min(y + points, bodyBottom) }
    }

    mutating func emit(_ op: DrawOp) { pages[pages.count - 1].append(op) }

    /// `text` laid out in `font`, wrapped at `width`: the same box each time it is asked for again
    /// (a box is drawn as often as it is placed; the same text, font and width lay out alike).
    func box(_ text: String, font: FontSpec, width: Double, keepNewlines: Bool = false) -> TextBox {
        let key = LayoutCache.Key(text: text, font: font, width: width, keepNewlines: keepNewlines)
        if let known = cache.boxes[key] { return known }
        let box = TextBox(
            context: context, text: PDFVisibleText.make(text, keepNewlines: keepNewlines), font: font)
        box.wrap(width: width)
        cache.boxes[key] = box
        return box
    }

    /// Places a row of cells side by side, splitting it between lines across pages when it does
    /// not fit; `continued` runs on each new page the row continues on (a table's header).
    /// The tallest row (in points, about eight lines of body text) kept whole on one page.
    static let keptTogether = 110.0

    mutating func placeRow(_ cells: [RowCell], continued: (inout PageComposer) -> Void = { _ in }) {
        var next = cells.map { _ in 0 }
        // A short row (a few lines) that does not fit in what is left of the page starts the next
        // one whole: a time or a hash cut in two across pages is hard to read. Taller rows split.
        let padding = cells.map(\.padding).max() ?? 0
        let fullHeight =
            cells.map { cell in
                guard let first = cell.box.lines.first, let last = cell.box.lines.last else { return 0.0 }
                return last.bottom - first.top
            }.max() ?? 0
        if !pageIsEmpty && fullHeight + 2 * padding > remaining && fullHeight <= Self.keptTogether {
            newPage()
            continued(&self)
        }
        while true {
            let available = remaining - 2 * padding
            var ends = next
            var sliceHeight = 0.0
            for (index, cell) in cells.enumerated() where next[index] < cell.box.lines.count {
                let lines = cell.box.lines
                let start = lines[next[index]].top
                var end = next[index]
                while end < lines.count && lines[end].bottom - start <= available { end += 1 }
                ends[index] = end
                if end > next[index] { sliceHeight = max(sliceHeight, lines[end - 1].bottom - start) }
            }
            let unfinished = cells.indices.filter { next[$0] < cells[$0].box.lines.count }
            if !unfinished.isEmpty && unfinished.allSatisfy({ ends[$0] == next[$0] }) {
                if pageIsEmpty {
                    // A line taller than a page: placed alone, clipped by the page rather than lost.
                    for index in unfinished {
                        ends[index] = next[index] + 1
                        let line = cells[index].box.lines[next[index]]
                        sliceHeight = max(sliceHeight, line.bottom - line.top)
                    }
                } else {
                    newPage()
                    continued(&self)
                    continue
                }
            }
            let rowHeight = sliceHeight + 2 * padding
            for (index, cell) in cells.enumerated() {
                if cell.fillGray != nil || cell.border > 0 {
                    emit(
                        .rectangle(
                            x: left + cell.x, y: y, width: cell.width, height: rowHeight, lineWidth: cell.border,
                            fillGray: cell.fillGray))
                }
                if ends[index] > next[index] {
                    emit(
                        .text(
                            cell.box, lines: next[index]..<ends[index], x: left + cell.x + cell.padding,
                            y: y + padding))
                }
            }
            y += rowHeight
            next = ends
            if cells.indices.allSatisfy({ next[$0] >= cells[$0].box.lines.count }) { return }
            newPage()
            continued(&self)
        }
    }

    /// Starts a new page unless `height` points are left on this one.
    mutating func keep(_ height: Double) {
        if !pageIsEmpty && remaining < height { newPage() }
    }

    // MARK: Blocks

    mutating func title(_ text: String) {
        let font = FontSpec(family: body.family, size: 17, bold: true)
        placeRow([RowCell(box: box(text, font: font, width: width), x: 0, width: width, padding: 0)])
        y += 4
        emit(.rule(x1: left, y1: y, x2: left + width, y2: y, lineWidth: 1.2))
        y += 10
    }

    mutating func heading(_ text: String, level: Int) {
        let size: Double = level <= 1 ? 14 : level == 2 ? 12 : 10.5
        let heading = box(text, font: FontSpec(family: body.family, size: size, bold: true), width: width)
        space(level <= 1 ? 14 : 10)
        // Kept with the start of what follows (three lines of body text).
        keep(min(heading.height, 100) + 3 * body.size * 1.5)
        placeRow([RowCell(box: heading, x: 0, width: width, padding: 0)])
        if level <= 1 {
            y += 2
            emit(.rule(x1: left, y1: y, x2: left + width, y2: y, lineWidth: 0.6))
        }
        y += 5
    }

    mutating func paragraph(_ text: String) {
        placeRow([RowCell(box: box(text, font: body, width: width, keepNewlines: true), x: 0, width: width, padding: 0)]
        )
        y += 6
    }

    mutating func monospace(_ text: String) {
        let padding = 4.0
        let box = box(text, font: mono, width: width - 2 * padding, keepNewlines: true)
        placeRow([RowCell(box: box, x: 0, width: width, padding: padding, border: 0, fillGray: 0.93)])
        y += 6
    }

    mutating func keyValues(_ pairs: [PDFKeyValue]) {
        let labelWidth = (width * 0.32).rounded()
        let padding = 2.5
        for pair in pairs {
            let label = box(pair.label, font: bold, width: labelWidth - 2 * padding)
            let value = box(pair.value, font: body, width: width - labelWidth - 2 * padding)
            placeRow([
                RowCell(box: label, x: 0, width: labelWidth, padding: padding),
                RowCell(box: value, x: labelWidth, width: width - labelWidth, padding: padding),
            ])
            emit(.rule(x1: left, y1: y, x2: left + width, y2: y, lineWidth: 0.3))
        }
        y += 6
    }

    mutating func verdict(pass: Bool, text: String) {
        let padding = 6.0
        let font = FontSpec(family: body.family, size: pass ? 10.5 : 12, bold: true)
        let box = box(text, font: font, width: width - 2 * padding)
        space(4)
        placeRow([RowCell(box: box, x: 0, width: width, padding: padding, border: pass ? 0.8 : 2.5)])
        y += 8
    }

    mutating func signatureBlock(_ labels: [String]) {
        let labelWidth = (width * 0.36).rounded()
        let boxes = labels.map { box($0, font: bold, width: labelWidth - 6) }
        // Room to write by hand; a label that asks for a seal gets room for one (25 mm).
        let heights = zip(labels, boxes).map { label, box in
            let seal = label.contains("蓋章") || label.lowercased().contains("seal")
            return max(seal ? 72 : 40, box.height + 24)
        }
        space(10)
        keep(heights.reduce(0, +))
        for (label, height) in zip(boxes, heights) {
            keep(height)
            if height > remaining {
                // A label longer than a page (hostile text): placed as a paragraph, then its line.
                placeRow([RowCell(box: label, x: 0, width: labelWidth, padding: 0)])
                y = min(y + 6, bodyBottom)
            } else {
                // The label sits on the line the hand writes on.
                y += height
                emit(.text(label, lines: 0..<label.lines.count, x: left, y: y - label.height - 3))
            }
            emit(.rule(x1: left + labelWidth, y1: y, x2: left + width, y2: y, lineWidth: 0.6))
        }
        y += 8
    }

    mutating func table(columns: [String], rows: [[String]]) {
        let count = max(columns.count, rows.map(\.count).max() ?? 0)
        guard count > 0 else { return }
        let padding = 3.0
        func isFailure(_ text: String) -> Bool { text.hasPrefix("FAIL") || text.hasPrefix("驗證失敗") }
        // Each cell's natural width, then its box wrapped at its column's width: both kept, so a
        // text met again (a label, a result) is laid out once.
        struct Cell {
            var text: String
            var font: FontSpec
            var natural: Double
            var unwrapped: TextBox?
        }
        func cell(_ text: String, header: Bool) -> Cell {
            let font = header || isFailure(text) ? bold : body
            let key = LayoutCache.NaturalKey(text: text, font: font)
            if let natural = cache.naturalWidths[key] { return Cell(text: text, font: font, natural: natural) }
            let box = TextBox(context: context, text: PDFVisibleText.make(text, keepNewlines: false), font: font)
            let natural = box.naturalWidth
            cache.naturalWidths[key] = natural
            return Cell(text: text, font: font, natural: natural, unwrapped: box)
        }
        func wrapped(_ cell: Cell, width: Double) -> TextBox {
            let key = LayoutCache.Key(text: cell.text, font: cell.font, width: width, keepNewlines: false)
            if let known = cache.boxes[key] { return known }
            let box =
                cell.unwrapped
                ?? TextBox(context: context, text: PDFVisibleText.make(cell.text, keepNewlines: false), font: cell.font)
            box.wrap(width: width)
            cache.boxes[key] = box
            return box
        }
        let headerTexts = (0..<count).map { cell($0 < columns.count ? columns[$0] : "", header: true) }
        let cellTexts = rows.map { row in (0..<count).map { cell($0 < row.count ? row[$0] : "", header: false) } }
        let widths = Self.columnWidths(
            natural: (0..<count).map { column in
                ([headerTexts[column]] + cellTexts.map { $0[column] }).map { $0.natural + 2 * padding + 1 }.max() ?? 0
            }, total: width)
        var offsets: [Double] = []
        var x = 0.0
        for width in widths {
            offsets.append(x)
            x += width
        }
        let header = headerTexts.enumerated().map { index, cell in wrapped(cell, width: widths[index] - 2 * padding) }
        let cells = cellTexts.map { row in
            row.enumerated().map { index, cell in wrapped(cell, width: widths[index] - 2 * padding) }
        }
        let headerCells = header.enumerated().map { index, box in
            RowCell(box: box, x: offsets[index], width: widths[index], padding: padding, border: 0.5, fillGray: 0.88)
        }
        let headerHeight = (header.map(\.height).max() ?? 0) + 2 * padding
        // A header taller than a third of the page is not repeated (it would leave no room).
        let repeatHeader = headerHeight < (bodyBottom - bodyTop) / 3
        let firstRowLine = cells.first.map { row in
            row.map { $0.lines.first.map { $0.bottom - $0.top } ?? 0 }.max() ?? 0
        }
        space(2)
        keep(min(headerHeight, (bodyBottom - bodyTop) / 3) + (firstRowLine ?? 0) + 2 * padding)
        placeRow(headerCells)
        for (rowIndex, row) in cells.enumerated() {
            // A failed cell is boxed heavily as well as bold: never told by color alone.
            let cells = row.enumerated().map { index, box in
                let failed = index < rows[rowIndex].count && isFailure(rows[rowIndex][index])
                return RowCell(
                    box: box, x: offsets[index], width: widths[index], padding: padding, border: failed ? 2 : 0.5)
            }
            placeRow(cells) { composer in
                if repeatHeader { composer.placeRow(headerCells) }
            }
        }
        y += 8
    }

    /// Column widths that fill `total`: each column gets its natural width when all fit;
    /// otherwise a fair share, and what is left goes to the columns that want more.
    static func columnWidths(natural: [Double], total: Double) -> [Double] {
        let sum = natural.reduce(0, +)
        if sum <= total {
            let extra = total - sum
            return natural.map { $0 + extra * ($0 / max(sum, 1)) }
        }
        let share = total / Double(natural.count)
        let base = natural.map { min($0, share) }
        let wanting = zip(natural, base).map { $0 - $1 }
        let left = total - base.reduce(0, +)
        let wanted = wanting.reduce(0, +)
        return zip(base, wanting).map { $0 + (wanted > 0 ? left * $1 / wanted : 0) }
    }
}

/// The boxes one pango context has laid out, by text, font and width; and the natural (unwrapped)
/// widths of table cells. Used by one thread only.
final class LayoutCache {
    struct Key: Hashable {
        var text: String
        var font: FontSpec
        var width: Double
        var keepNewlines: Bool
    }
    struct NaturalKey: Hashable {
        var text: String
        var font: FontSpec
    }
    var boxes: [Key: TextBox] = [:]
    var naturalWidths: [NaturalKey: Double] = [:]
}
