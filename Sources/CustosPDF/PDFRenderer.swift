import CPangoCairo
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Renders a ``PDFDocumentLayout`` as an A4 PDF with pango and cairo: 20 mm margins, the running
/// header and "第 N 頁，共 M 頁 / page N of M" on every page, the fonts embedded as subsets.
///
/// The whole document is laid out before the first page is drawn, so the page count is known.
/// One call uses its own cairo surface and pango context, but calls are made one at a time in a
/// process: two documents laid out at once on two threads broke a few lines differently from run
/// to run (state pango, cairo or FreeType share), and the same facts must give the same bytes.
public enum PDFRenderer {
    /// Held while a document is rendered.
    private static let oneAtATime = Mutex<Void>(())

    /// The PDF's bytes.
    public static func render(_ layout: PDFDocumentLayout) throws(PDFError) -> [UInt8] {
        let sink = OutputSink(fileDescriptor: nil)
        try render(layout, into: sink)
        return sink.bytes
    }

    /// Writes the PDF to `fileDescriptor` (not closed, not synced: the caller owns it).
    public static func render(_ layout: PDFDocumentLayout, toFileDescriptor fileDescriptor: Int32) throws(PDFError) {
        try render(layout, into: OutputSink(fileDescriptor: fileDescriptor))
    }

    /// Creates (or truncates) the file at `path`, mode 0644, and writes the PDF to it; a symbolic
    /// link at `path` is refused.
    public static func render(_ layout: PDFDocumentLayout, toFile path: String) throws(PDFError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else {
            throw PDFError(code: .open, message: "cannot create \(path)", cause: String(cString: strerror(errno)))
        }
        defer { close(descriptor) }
        do {
            try render(layout, toFileDescriptor: descriptor)
        } catch {
            throw PDFError(code: error.code, message: "\(path): \(error.message)", cause: error.cause)
        }
    }

    private static func render(_ layout: PDFDocumentLayout, into sink: OutputSink) throws(PDFError) {
        try oneAtATime.withLock { (_: inout Void) throws(PDFError) in try renderAlone(layout, into: sink) }
    }

    private static func renderAlone(_ layout: PDFDocumentLayout, into sink: OutputSink) throws(PDFError) {
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }
        let surface = cairo_pdf_surface_create_for_stream(
            { closure, data, length in
                guard let closure, let data else { return CAIRO_STATUS_WRITE_ERROR }
                let sink = Unmanaged<OutputSink>.fromOpaque(closure).takeUnretainedValue()
                return sink.write(UnsafeRawBufferPointer(start: data, count: Int(length)))
                    ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR
            }, unmanaged.toOpaque(), PageComposer.pageWidth, PageComposer.pageHeight)
        guard let surface else { throw PDFError(code: .cairo, message: "cannot create the PDF surface") }
        defer { cairo_surface_destroy(surface) }
        try check(cairo_surface_status(surface), "cannot create the PDF surface", sink)

        cairo_pdf_surface_set_metadata(
            surface, CAIRO_PDF_METADATA_TITLE, PDFVisibleText.make(layout.title, keepNewlines: false))
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, layout.creator)
        if let date = layout.creationDate {
            cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATE_DATE, date)
        }

        guard let cairo = cairo_create(surface) else {
            throw PDFError(code: .cairo, message: "cannot create a cairo context")
        }
        defer { cairo_destroy(cairo) }
        try check(cairo_status(cairo), "cannot create a cairo context", sink)

        guard let context = pango_cairo_create_context(cairo) else {
            throw PDFError(code: .cairo, message: "cannot create a pango context")
        }
        defer { g_object_unref(UnsafeMutableRawPointer(context)) }
        // Points are cairo's PDF units: a 10 pt font is 10 units high.
        pango_cairo_context_set_resolution(context, 72)
        pango_context_set_base_dir(context, PANGO_DIRECTION_LTR)
        // Glyphs where the font puts them: positions rounded to whole points (hinted metrics)
        // leave uneven gaps inside words at 10 pt.
        pango_context_set_round_glyph_positions(context, 0)
        if let options = cairo_font_options_create() {
            cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
            cairo_font_options_set_hint_style(options, CAIRO_HINT_STYLE_NONE)
            pango_cairo_context_set_font_options(context, options)
            cairo_font_options_destroy(options)
        }
        try requireFamilies([layout.fontFamily, layout.monospaceFamily], in: context)

        let body = FontSpec(family: layout.fontFamily, size: 10)
        let mono = FontSpec(family: layout.monospaceFamily, size: 8.5)
        let contentWidth = PageComposer.pageWidth - 2 * PageComposer.margin

        // The running header: in the top margin, at most a few lines (its newlines kept), then a
        // rule.
        let headerTop = 28.35  // 10 mm
        let header = TextBox(
            context: context, text: PDFVisibleText.make(layout.runningHeader, keepNewlines: true),
            font: FontSpec(family: layout.fontFamily, size: 7.5))
        header.wrap(width: contentWidth, maxLines: PDFDocumentLayout.runningHeaderLines)
        let headerRule = headerTop + header.height + 3
        let bodyTop = max(PageComposer.margin, headerRule + 10)

        var composer = PageComposer(context: context, cache: LayoutCache(), body: body, mono: mono, bodyTop: bodyTop)
        composer.title(layout.title)
        for block in layout.blocks {
            switch block {
            case .heading(let text, let level): composer.heading(text, level: level)
            case .paragraph(let text): composer.paragraph(text)
            case .keyValues(let pairs): composer.keyValues(pairs)
            case .table(let columns, let rows): composer.table(columns: columns, rows: rows)
            case .monospace(let text): composer.monospace(text)
            case .verdict(let pass, let text): composer.verdict(pass: pass, text: text)
            case .pageBreak: if !composer.pageIsEmpty { composer.newPage() }
            case .signatureBlock(let labels): composer.signatureBlock(labels)
            }
        }

        let pages = composer.pages
        let footerFont = FontSpec(family: layout.fontFamily, size: 8)
        for (index, operations) in pages.enumerated() {
            cairo_set_source_rgb(cairo, 0, 0, 0)
            header.draw(cairo, lines: 0..<header.lines.count, x: PageComposer.margin, y: headerTop)
            stroke(
                cairo, x1: PageComposer.margin, y1: headerRule, x2: PageComposer.margin + contentWidth, y2: headerRule,
                width: 0.4)
            for operation in operations { draw(operation, on: cairo) }

            let footer = TextBox(
                context: context, text: "第 \(index + 1) 頁，共 \(pages.count) 頁 / page \(index + 1) of \(pages.count)",
                font: footerFont)
            footer.wrap(width: contentWidth)
            let footerX = PageComposer.margin + (contentWidth - footer.naturalWidth) / 2
            footer.draw(
                cairo, lines: 0..<footer.lines.count, x: footerX, y: PageComposer.pageHeight - PageComposer.margin + 14)
            cairo_show_page(cairo)
            try check(cairo_status(cairo), "cannot draw page \(index + 1)", sink)
        }
        cairo_surface_finish(surface)
        try check(cairo_surface_status(surface), "cannot finish the PDF", sink)
    }

    private static func draw(_ operation: DrawOp, on cairo: OpaquePointer) {
        switch operation {
        case .text(let box, let lines, let x, let y):
            cairo_set_source_rgb(cairo, 0, 0, 0)
            box.draw(cairo, lines: lines, x: x, y: y)
        case .rectangle(let x, let y, let width, let height, let lineWidth, let fillGray):
            if let fillGray {
                cairo_set_source_rgb(cairo, fillGray, fillGray, fillGray)
                cairo_rectangle(cairo, x, y, width, height)
                cairo_fill(cairo)
            }
            if lineWidth > 0 {
                cairo_set_source_rgb(cairo, 0, 0, 0)
                cairo_set_line_width(cairo, lineWidth)
                cairo_rectangle(cairo, x, y, width, height)
                cairo_stroke(cairo)
            }
        case .rule(let x1, let y1, let x2, let y2, let lineWidth):
            stroke(cairo, x1: x1, y1: y1, x2: x2, y2: y2, width: lineWidth)
        }
    }

    private static func stroke(_ cairo: OpaquePointer, x1: Double, y1: Double, x2: Double, y2: Double, width: Double) {
        cairo_set_source_rgb(cairo, 0, 0, 0)
        cairo_set_line_width(cairo, width)
        cairo_move_to(cairo, x1, y1)
        cairo_line_to(cairo, x2, y2)
        cairo_stroke(cairo)
    }

    /// Fails unless each family is installed: fontconfig would otherwise substitute one silently,
    /// perhaps without Chinese glyphs.
    private static func requireFamilies(_ names: [String], in context: OpaquePointer) throws(PDFError) {
        guard let fontMap = pango_context_get_font_map(context) else {
            throw PDFError(code: .cairo, message: "pango has no font map")
        }
        var families: UnsafeMutablePointer<UnsafeMutablePointer<PangoFontFamily>?>? = nil
        var count: Int32 = 0
        pango_font_map_list_families(fontMap, &families, &count)
        defer { g_free(families) }
        var installed = Set<String>()
        for index in 0..<Int(count) {
            if let family = families?[index], let name = pango_font_family_get_name(family) {
                installed.insert(String(cString: name).lowercased())
            }
        }
        for name in names where !installed.contains(name.lowercased()) {
            throw PDFError(
                code: .fontMissing,
                message: "the font family \"\(name)\" is not installed (fonts-noto-cjk provides Noto Sans CJK TC)")
        }
    }

    private static func check(_ status: cairo_status_t, _ what: String, _ sink: OutputSink) throws(PDFError) {
        guard status != CAIRO_STATUS_SUCCESS else { return }
        if status == CAIRO_STATUS_WRITE_ERROR, let error = sink.writeErrno {
            throw PDFError(
                code: .write, message: "\(what): cannot write the PDF", cause: String(cString: strerror(error)))
        }
        throw PDFError(code: .cairo, message: what, cause: String(cString: cairo_status_to_string(status)))
    }
}

/// Where cairo's stream goes: memory, or a file descriptor (the first failed write's errno kept).
private final class OutputSink {
    let fileDescriptor: Int32?
    var bytes: [UInt8] = []
    var writeErrno: Int32?

    init(fileDescriptor: Int32?) { self.fileDescriptor = fileDescriptor }

    func write(_ data: UnsafeRawBufferPointer) -> Bool {
        guard writeErrno == nil else { return false }
        guard let fileDescriptor else {
            bytes.append(contentsOf: data)
            return true
        }
        var offset = 0
        while offset < data.count {
            let written = Glibc.write(fileDescriptor, data.baseAddress! + offset, data.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                writeErrno = errno
                return false
            }
            offset += written
        }
        return true
    }
}
