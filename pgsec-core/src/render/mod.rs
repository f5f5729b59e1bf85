//! Report renderers: text, JSON and SARIF 2.1.0. Rendering never decides anything.
