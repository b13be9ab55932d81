use super::*;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn variables_defaults_and_literals() {
    let t = Template::parse("Hi {{name}}, order {{ order.id }} ships {{when|soon}}.").unwrap();
    assert_eq!(t.variables(false), ["name", "order.id", "when"]);
    assert_eq!(t.variables(true), ["name", "order.id"]);
    assert_eq!(
        t.render(&vars(&[("name", "Ada"), ("order.id", "A-17")])).unwrap(),
        "Hi Ada, order A-17 ships soon."
    );
    assert_eq!(
        t.render(&vars(&[("name", "Ada"), ("order.id", "A-17"), ("when", "today")])).unwrap(),
        "Hi Ada, order A-17 ships today."
    );
    let plain = Template::parse("no variables, a } and a { alone").unwrap();
    assert_eq!(plain.render(&HashMap::new()).unwrap(), "no variables, a } and a { alone");
    let escaped = Template::parse("literal {{{{name}} here").unwrap();
    assert_eq!(escaped.render(&HashMap::new()).unwrap(), "literal {{name}} here");
    // An empty default is a default.
    let t = Template::parse("a{{x|}}b").unwrap();
    assert_eq!(t.render(&HashMap::new()).unwrap(), "ab");
}

#[test]
fn missing_variables_are_all_named() {
    let t = Template::parse("{{b}} {{a}} {{b}} {{c|x}}").unwrap();
    assert_eq!(t.render(&vars(&[])), Err(RenderError::Missing(vec!["a".into(), "b".into()])));
}

#[test]
fn values_are_inserted_as_written_never_expanded() {
    let t = Template::parse("{{a}}").unwrap();
    assert_eq!(t.render(&vars(&[("a", "{{a}}{{a}}")])).unwrap(), "{{a}}{{a}}");
}

#[test]
fn bad_templates_are_refused_with_the_place() {
    assert_eq!(Template::parse("hello {{name"), Err(ParseError::Unclosed(6)));
    assert_eq!(Template::parse("é {{x}} {{"), Err(ParseError::Unclosed(8)));
    assert_eq!(Template::parse("{{}}"), Err(ParseError::BadName(String::new())));
    assert_eq!(Template::parse("{{a b}}"), Err(ParseError::BadName("a b".into())));
    assert_eq!(Template::parse(&"x".repeat(MAX_TEMPLATE + 1)), Err(ParseError::TooLong));
}

#[test]
fn output_is_capped() {
    let t = Template::parse("{{a}}{{a}}").unwrap();
    let big = "y".repeat(MAX_OUTPUT / 2 + 1);
    assert_eq!(t.render(&vars(&[("a", &big)])), Err(RenderError::TooLong));
}
