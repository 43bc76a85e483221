//! Text made safe inside HTML, SVG and XML: the one escape every writer of markup
//! uses (the bulletin and its charts, the console's stage graph, JUnit reports).

/// Escapes `text` for an element's content or a quoted attribute value in HTML, SVG
/// or XML 1.0: `&`, `<`, `>`, `"` and `'` become references; the control characters
/// XML 1.0 cannot hold are dropped (tab, line feed and carriage return stay).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1}\n\t"),
            "a&lt;b &amp; &quot;c&quot; &#39;d&#39;&gt;\n\t"
        );
        assert_eq!(escape("投诉"), "投诉");
    }
}
