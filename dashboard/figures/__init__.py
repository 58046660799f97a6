"""Pure figure builders: engine results -> Plotly figures (and the equations' LaTeX). No Streamlit."""
