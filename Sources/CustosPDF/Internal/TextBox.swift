import CPangoCairo

/// One font: family, size in points, bold or not.
struct FontSpec: Hashable {
    var family: String
    var size: Double
    var bold: Bool = false
}

/// One Pango layout (owned: unreferenced in deinit) and the geometry of its lines, in points
/// from the layout's top. Text is set with `pango_layout_set_text` only, never as markup.
final class TextBox {
    struct Line {
        var top: Double
        var bottom: Double
        var baseline: Double
        var x: Double
    }

    private let layout: OpaquePointer
    private(set) var lines: [Line] = []

    /// `text` must already be visible text (``PDFVisibleText``).
    init(context: OpaquePointer, text: String, font: FontSpec) {
        layout = pango_layout_new(context)
        let description = pango_font_description_new()
        pango_font_description_set_family(description, font.family)
        pango_font_description_set_absolute_size(description, font.size * Double(PANGO_SCALE))
        pango_font_description_set_weight(description, font.bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL)
        pango_layout_set_font_description(layout, description)
        pango_font_description_free(description)
        pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR)
        // No hyphen where a word is broken: in a hash or a path it would read as part of the value.
        let attributes = pango_attr_list_new()
        pango_attr_list_insert(attributes, pango_attr_insert_hyphens_new(0))
        pango_layout_set_attributes(layout, attributes)
        pango_attr_list_unref(attributes)
        pango_layout_set_auto_dir(layout, 0)
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                pango_layout_set_text(layout, chars.baseAddress, Int32(chars.count))
            }
        }
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(layout)) }

    /// The width of the text on one line, unwrapped, in points.
    var naturalWidth: Double {
        var logical = PangoRectangle()
        pango_layout_get_extents(layout, nil, &logical)
        return Double(logical.width) / Double(PANGO_SCALE)
    }

    var height: Double { lines.last.map { $0.bottom } ?? 0 }

    /// Wraps the text at `width` points, and at most `maxLines` lines (the rest ellipsized).
    func wrap(width: Double, maxLines: Int? = nil) {
        pango_layout_set_width(layout, Int32(width * Double(PANGO_SCALE)))
        if let maxLines {
            pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END)
            pango_layout_set_height(layout, -Int32(maxLines))
        }
        lines = []
        let iterator = pango_layout_get_iter(layout)
        defer { pango_layout_iter_free(iterator) }
        repeat {
            var logical = PangoRectangle()
            pango_layout_iter_get_line_extents(iterator, nil, &logical)
            let baseline = pango_layout_iter_get_baseline(iterator)
            let scale = Double(PANGO_SCALE)
            lines.append(
                Line(
                    top: Double(logical.y) / scale, bottom: Double(logical.y + logical.height) / scale,
                    baseline: Double(baseline) / scale, x: Double(logical.x) / scale))
        } while pango_layout_iter_next_line(iterator) != 0
    }

    /// Draws lines `range`, the first one's top at `y`, the layout's left edge at `x`.
    func draw(_ cairo: OpaquePointer, lines range: Range<Int>, x: Double, y: Double) {
        guard let first = range.first else { return }
        let origin = lines[first].top
        for index in range {
            let line = lines[index]
            guard let layoutLine = pango_layout_get_line_readonly(layout, Int32(index)) else { continue }
            cairo_move_to(cairo, x + line.x, y + line.baseline - origin)
            pango_cairo_show_layout_line(cairo, layoutLine)
        }
    }
}
