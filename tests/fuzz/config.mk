# fuzz target of config/
