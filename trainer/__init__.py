"""Model code, free of TFX: head specs, preprocessing, the model, training and export."""
